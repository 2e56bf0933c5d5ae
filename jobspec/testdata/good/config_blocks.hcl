job "cfg" {
  group "g" {
    task "t" {
      driver = "podman"
      config {
        image   = "localhost/shop:1"
        ports   = ["http"]
        int     = 42
        float   = 1.5
        big     = 1e3
        neg     = -7
        flag    = true
        nothing = null
        obj     = { k = "v", n = 2 }
        mount {
          type   = "bind"
          source = "a"
        }
        mount {
          type   = "bind"
          source = "b"
        }
        logging {
          type = "journald"
        }
        labelled "one" "two" {
          x = 1
        }
      }
      resources {
        memory = 64
      }
    }
  }
  type = "batch"
}
