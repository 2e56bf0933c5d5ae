# want: logs.hcl:12: logs: max_files must be at least 1, got 0
# want: use max_files = 1 or more (default 10), or disabled = true to keep no logs
# want: logs.hcl:13: logs: max_file_size must be at least 1, got -5
# want: logs.hcl:22: "max_file_size" must be a whole number, got 1.5
# want: logs.hcl:23: group "g" task "u" logs: unknown attribute "max_size"
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      logs {
        max_files     = 0
        max_file_size = -5
      }
      resources { cpu = 100 }
    }
    task "u" {
      driver = "exec"
      config { command = "/bin/true" }
      resources { cpu = 100 }
      logs {
        max_file_size = 1.5
        max_size      = 3
      }
    }
  }
}
