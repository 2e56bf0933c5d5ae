# want: check_header.hcl:14: check header "X-Probe": a value has a line break or NUL; write each value on one line
job "api" {
  group "g" {
    network {
      port "http" {}
    }

    service {
      port = "http"
      check {
        type = "http"
        path = "/"
        header {
          X-Probe = ["a\r\nInjected: 1"]
        }
      }
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
