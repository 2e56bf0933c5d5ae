# shape: the pre-0.12 Docker port_map kept under podman (write network { port "http" { to = 80 } } and ports = ["http"])
# want: port_map
job "old" {
  group "g" {
    network {
      port "http" {}
    }

    task "t" {
      driver = "podman"

      config {
        image = "docker.io/library/nginx:1.25"

        port_map {
          http = 80
        }
      }
    }
  }
}
