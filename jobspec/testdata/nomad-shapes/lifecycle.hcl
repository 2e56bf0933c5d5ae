# shape: task lifecycle as the Nomad tutorials write it: a prestart init task waiting for a service, a poststart sidecar, a poststop cleanup
job "lifecycle" {
  datacenters = ["dc1"]

  group "app" {
    network {
      port "http" {}
    }

    task "wait-for-db" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      template {
        data        = <<EOH
{{ range nomadService "db" }}DB_ADDR={{ .Address }}:{{ .Port }}{{ end }}
EOH
        destination = "local/db.env"
        env         = true
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "until nc -z $${DB_ADDR%:*} $${DB_ADDR#*:}; do sleep 1; done"]
      }
    }

    task "app" {
      driver = "podman"

      config {
        image = "ghcr.io/example/app:2.1"
        ports = ["http"]
      }

      service {
        port     = "http"
        provider = "nomad"

        check {
          type     = "http"
          path     = "/ready"
          interval = "5s"
          timeout  = "1s"
        }
      }
    }

    task "log-shipper" {
      driver = "exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = "/usr/bin/tail"
        args    = ["-F", "${NOMAD_ALLOC_DIR}/logs/app.stdout.0"]
      }
    }

    task "cleanup" {
      driver = "exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/bin/rm"
        args    = ["-rf", "${NOMAD_ALLOC_DIR}/tmp"]
      }
    }
  }
}
