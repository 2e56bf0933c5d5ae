# want: restart_mode.hcl:5: unknown restart mode "retry"; use one of: fail, delay
job "web" {
  group "g" {
    restart {
      mode = "retry"
    }
    task "t" { driver = "exec" }
  }
}
