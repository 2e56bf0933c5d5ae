# shape: a service rolled out with canaries (update with canary, auto_promote, auto_revert), a -var-file in JSON, disconnect, check_restart, kill_timeout/kill_signal, logs, an indented heredoc template with splay, change_signal and custom delimiters, NOMAD_ALLOC_INDEX in args
# var-file: vars/canary.json
variable "version" {
  type = string
}

variable "canaries" {
  type    = number
  default = 0
}

job "gateway" {
  datacenters = ["dc2"]

  update {
    max_parallel     = 1
    canary           = var.canaries
    auto_promote     = true
    auto_revert      = true
    min_healthy_time = "15s"
    healthy_deadline = "2m"
  }

  group "gateway" {
    count = 2

    disconnect {
      lost_after = "6h"
      replace    = false
      reconcile  = "keep_original"
    }

    network {
      port "http" {}
      port "admin" {}
    }

    task "gateway" {
      driver       = "exec"
      kill_timeout = "20s"
      kill_signal  = "SIGTERM"

      config {
        command = "/opt/gateway/gateway-${var.version}"
        args    = ["-instance", "${NOMAD_ALLOC_INDEX}", "-config", "${NOMAD_TASK_DIR}/gateway.conf"]
      }

      template {
        data            = <<-EOT
          listen = "[[ env "NOMAD_ADDR_http" ]]"
          admin  = "[[ env "NOMAD_ADDR_admin" ]]"
          [[ range nomadService "auth" ]]upstream = "[[ .Address ]]:[[ .Port ]]"
          [[ end ]]
        EOT
        destination     = "local/gateway.conf"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        splay           = "10s"
      }

      service {
        name     = "gateway"
        port     = "http"
        provider = "nomad"
        tags     = ["v${var.version}"]

        check {
          type     = "http"
          path     = "/healthz"
          interval = "10s"
          timeout  = "2s"
          method   = "GET"
          header {
            X-Probe = ["tether"]
          }

          check_restart {
            limit = 3
            grace = "30s"
          }
        }
      }

      logs {
        max_files     = 5
        max_file_size = 10
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
