# Nomad names that cannot change what runs in Tether: accepted, with a
# warning where they have no effect at all, silently where the value asks
# for what Tether does anyway.
job "ign" {
  all_at_once = false
  node_pool   = "default"

  ui {
    description = "shown in Nomad's web UI only"
  }

  group "g" {
    network {
      port "http" {}
    }

    service {
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        protocol = "http"
        notes    = "for humans"
      }
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      template {
        data                 = "x"
        destination          = "local/x"
        error_on_missing_key = false
      }
      artifact {
        source = "https://example.invalid/x.tgz"
        options {
          archive = false
        }
      }
    }
  }
}
