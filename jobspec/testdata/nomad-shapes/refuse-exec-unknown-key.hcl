# shape: an exec task with a raw_exec/exec2 key the exec driver does not read
# want: config key "pid_mode" is not supported
job "exec" {
  group "g" {
    task "t" {
      driver = "exec"

      config {
        command = "/opt/app/app"
        pid_mode = "host"
      }
    }
  }
}
