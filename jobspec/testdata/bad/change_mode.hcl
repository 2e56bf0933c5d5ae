# want: change_mode.hcl:9: unknown template change_mode "reload"; use one of: restart, signal, noop
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      template {
        data        = "x"
        destination = "local/x"
        change_mode = "reload"
      }
    }
  }
}
