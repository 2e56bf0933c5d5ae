# A batch job's defaults (attempts 1 in 24h, 5s, constant) under a
# group block that writes only some fields; attempts = 0 turns it off.
job "rsb" {
  type = "batch"

  group "once" {
    reschedule {
      attempts = 2
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }

  group "off" {
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
