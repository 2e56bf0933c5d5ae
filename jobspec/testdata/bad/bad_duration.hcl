# want: bad_duration.hcl:7: bad duration "5 seconds" for "kill_timeout"
# want: write a duration string such as kill_timeout = "30s"
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      kill_timeout = "5 seconds"
    }
  }
}
