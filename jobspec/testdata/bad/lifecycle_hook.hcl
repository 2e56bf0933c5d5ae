# want: lifecycle_hook.hcl:9: unknown lifecycle hook "prestrat"; use one of: prestart, poststart, poststop
# want: lifecycle_hook.hcl:18: task "cleanup": a poststop task cannot be a sidecar; remove sidecar = true
job "web" {
  group "g" {
    task "init" {
      driver = "exec"
      config { command = "/bin/true" }
      lifecycle {
        hook = "prestrat"
      }
    }
    task "main" { driver = "exec" }
    task "cleanup" {
      driver = "exec"
      config { command = "/bin/true" }
      lifecycle {
        hook    = "poststop"
        sidecar = true
      }
    }
  }
}
