# want: task_restart.hcl:8: unknown restart mode "again"; use one of: fail, delay
# want: task_restart.hcl:13: restart: 3 attempts with a delay of 1m0s do not fit in an interval of 1m0s
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      restart {
        mode = "again"
      }
    }
    task "u" {
      driver = "exec"
      restart {
        attempts = 3
        delay    = "1m"
        interval = "1m"
      }
    }
  }
}
