job "cfg" {
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "podman"
      config {
        image      = "localhost/shop:1"
        ports      = ["http"]
        entrypoint = null
        labels {
          int   = 42
          float = 1.5
          big   = 1e3
          neg   = -7
          flag  = true
        }
        labels {
          obj = jsonencode({ k = "v", n = 2 })
        }
      }
      resources {
        memory = 64
      }
    }
  }
  type = "batch"
}
