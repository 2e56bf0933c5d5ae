job "sys" {
  type        = "system"
  datacenters = ["edge-*"]
  region      = "eu"
  namespace   = "shop"
  priority    = 70

  group "collector" {
    count                        = 3
    stop_after_client_disconnect = "90m"

    restart {
      attempts = 5
      delay    = "5s"
    }

    task "collector" {
      driver       = "wasm"
      kill_timeout = "20s"
      kill_signal  = "SIGINT"
      leader       = true
      config {
        module = "local/collector.wasm"
      }
      resources {
        cores  = 1
        memory = 16
      }
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
    }

    task "shipper" {
      driver = "wasm"
      config {
        module = "local/shipper.wasm"
      }
      restart {
        attempts = 1
      }
    }
  }

  group "keeper" {
    disconnect {
      lost_after = "30m"
      replace    = false
      reconcile  = "keep_original"
    }
    max_client_disconnect = "5h"

    network {
      mode = "host"
      port "http" {
        to = 8080
      }
    }

    service {
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "1s"
      }
      check {
        type = "tcp"
        port = "http"
      }
    }

    task "keeper" {
      driver = "exec"
      user   = "nobody"
      config {
        command = "/bin/keeper"
      }
      service {
        name         = "keeper-admin"
        port         = "http"
        address_mode = "host"
      }
    }
  }
}
