# want: check_restart_group.hcl:16: check_restart on a group service is not supported; move the service into the task that serves it
job "cr" {
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/web"
      }
    }
    service {
      name = "grp"
      port = "http"
      check_restart { limit = 1 }
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
    }
  }
}
