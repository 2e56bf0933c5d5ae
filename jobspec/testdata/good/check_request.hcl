# An http check's method, headers and body, as Nomad writes them.
job "api" {
  group "g" {
    network {
      port "http" {}
    }

    service {
      name = "api"
      port = "http"

      check {
        type   = "http"
        path   = "/rpc"
        method = "POST"
        body   = "{\"ping\":1}"
        header {
          Host          = ["api.internal"]
          Authorization = ["Basic eDp5"]
          X-Probe       = ["a", "b"]
        }
        interval = "5s"
        timeout  = "1s"
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
