# The smallest useful Tether job: one exec task that says hello and keeps a
# heartbeat file fresh. Run it with:  central job submit examples/hello.hcl
job "hello" {
  datacenters = ["dc1"]
  type        = "service"

  group "hello" {
    count = 1

    task "hello" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo hello from $NOMAD_ALLOC_ID; while true; do date > $NOMAD_TASK_DIR/alive; sleep 1; done",
        ]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
