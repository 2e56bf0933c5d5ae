job "logs" {
  group "g" {
    task "chatty" {
      driver = "exec"
      config { command = "/bin/yes" }
      logs {
        max_files     = 2
        max_file_size = 1
      }
    }
    task "defaults" {
      driver = "exec"
      config { command = "/bin/true" }
      logs {
        max_files = 3
      }
    }
    task "quiet" {
      driver = "exec"
      config { command = "/bin/true" }
      logs {
        disabled = true
      }
    }
    task "nomad16" {
      driver = "exec"
      config { command = "/bin/true" }
      logs {
        enabled = false
      }
    }
    task "none" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}
