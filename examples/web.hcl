# The job the examples of docs/cli.md and docs/api.md show: "web", two
# instances of a task "server" on a dynamic port. It stands in for a web
# service with nothing but /bin/sh (each instance writes the page it would
# serve), so it runs on any agent:
#   central dev -job examples/web.hcl
variable "count" {
  type        = number
  default     = 2
  description = "how many instances run"
}

job "web" {
  datacenters = ["dc1"]
  type        = "service"

  group "web" {
    count = var.count

    # Replace every instance at once on a change, without a deployment.
    update {
      max_parallel = 0
    }

    network {
      port "http" {}
    }

    task "server" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo serving on port $NOMAD_PORT_http; while true; do date > $NOMAD_TASK_DIR/index.html; sleep 1; done",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
