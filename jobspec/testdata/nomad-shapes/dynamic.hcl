# shape: dynamic blocks generated from a local map (ports and services) and from a list (templates), as jobspec2 allows
locals {
  ports = {
    http    = 8080
    metrics = 9090
  }
  configs = ["app.ini", "db.ini"]
}

job "dynamic" {
  datacenters = ["dc1"]

  group "g" {
    network {
      dynamic "port" {
        for_each = local.ports
        labels   = [port.key]

        content {
          to = port.value
        }
      }
    }

    task "app" {
      driver = "podman"

      config {
        image = "docker.io/library/busybox:1.36"
        args  = ["httpd", "-f", "-p", "8080"]
        ports = keys(local.ports)
      }

      dynamic "service" {
        for_each = local.ports
        iterator = p

        content {
          name     = "dynamic-${p.key}"
          port     = p.key
          provider = "nomad"
        }
      }

      dynamic "template" {
        for_each = local.configs

        content {
          data        = "# ${template.value}\n"
          destination = "local/${template.value}"
        }
      }
    }
  }
}
