# want: change_signal.hcl:9: template change_mode "signal" needs change_signal
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      template {
        data        = "x"
        destination = "local/x"
        change_mode = "signal"
      }
    }
  }
}
