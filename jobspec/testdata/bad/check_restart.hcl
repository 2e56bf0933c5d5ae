# want: check_restart.hcl:21: check_restart: limit must not be negative, got -1
# want: check_restart.hcl:27: group "g" service: duplicate "check_restart" block
job "cr" {
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/web"
      }
      service {
        name = "web"
        port = "http"
        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
          check_restart { limit = -1 }
        }
      }
    }
    service {
      check_restart { limit = 1 }
      check_restart { limit = 2 }
      name = "grp"
      port = "http"
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
    }
  }
}
