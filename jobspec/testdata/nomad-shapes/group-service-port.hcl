# shape: a group service whose port is written "${NOMAD_PORT_api}" (the port's runtime variable) instead of the label, with a check on it
job "api" {
  datacenters = ["dc1"]

  group "api" {
    network {
      port "api" {}
    }

    service {
      name     = "api"
      port     = "${NOMAD_PORT_api}"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "api" {
      driver = "exec"

      config {
        command = "/opt/api/api"
        args    = ["-listen", ":${NOMAD_PORT_api}"]
      }
    }
  }
}
