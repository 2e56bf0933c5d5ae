# shape: a system job on every edge node: node attribute constraints (kernel, arch with regexp, version), meta, a host-network podman container
job "node-exporter" {
  datacenters = ["*"]
  type        = "system"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.cpu.arch}"
    operator  = "regexp"
    value     = "^(amd64|arm64|arm)$"
  }

  group "exporter" {
    network {
      port "metrics" {
        static = 9100
      }
    }

    service {
      name     = "node-exporter"
      port     = "metrics"
      provider = "nomad"
      tags     = ["metrics"]

      check {
        type     = "http"
        path     = "/metrics"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "exporter" {
      driver = "podman"

      config {
        image        = "quay.io/prometheus/node-exporter:v1.7.0"
        network_mode = "host"
        args         = ["--web.listen-address=:${NOMAD_PORT_metrics}"]
      }

      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
