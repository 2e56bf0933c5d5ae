# shape: HashiCups' nginx with its Docker mount block kept under podman (write volumes = ["local:/etc/nginx/conf.d"])
# want: mount
# want: volumes
job "nginx" {
  group "nginx" {
    network {
      port "http" {
        static = 80
      }
    }

    task "nginx" {
      driver = "podman"

      config {
        image = "nginx:alpine"
        ports = ["http"]

        mount {
          type   = "bind"
          source = "local"
          target = "/etc/nginx/conf.d"
        }
      }
    }
  }
}
