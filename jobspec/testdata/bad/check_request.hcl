# want: check_request.hcl:14: check method "FETCH" is not an HTTP method Tether sends; use one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
# want: check_request.hcl:18: check method, header and body apply only to http checks, not "tcp"
job "api" {
  group "g" {
    network {
      port "http" {}
    }

    service {
      port = "http"
      check {
        type   = "http"
        path   = "/"
        method = "FETCH"
      }
      check {
        type = "tcp"
        body = "x"
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
