# shop-edge.hcl with the frontend and the proxy in Podman containers, from
# the local image build-images.sh imports (no registry). The agent needs
# Podman (CONTAINER_HOST=unix:///path/podman.sock). Submit after shop.hcl,
# instead of shop-edge.hcl:
#
#   ./examples/edge-shop/build-images.sh --url unix:///path/podman.sock
#   central job submit -var bin_dir=$PWD/examples/edge-shop/bin examples/edge-shop/shop-edge-podman.hcl
variable "datacenters" {
  type        = list(string)
  default     = ["dc2"]
  description = "datacenters of the edge half"
}

variable "bin_dir" {
  type        = string
  description = "absolute path, on the agent, of the directory build.sh filled"
}

variable "image" {
  type        = string
  default     = "localhost/edge-shop:latest"
  description = "the local image build-images.sh made"
}

variable "proxy_port" {
  type        = number
  default     = 8080
  description = "static host port of the reverse proxy (the tutorial's NGINX listens on 80)"
}

job "shop-edge" {
  meta {
    variant = "podman"
  }

  type        = "service"
  datacenters = var.datacenters

  group "shop-edge" {
    # Keep running through an hour without central; reconcile on return.
    max_client_disconnect = "1h"

    network {
      port "http" {
        static = var.proxy_port
      }
      port "public" {}
      port "frontend" {}
    }

    restart {
      attempts = 10
      interval = "5m"
      delay    = "1s"
      mode     = "delay"
    }

    task "public-api" {
      driver = "exec"

      meta {
        service = "public-api"
      }

      config {
        command = "${var.bin_dir}/public-api"
      }

      env {
        PRODUCT_API_FILE = "${NOMAD_TASK_DIR}/product-api.env"
        PAYMENTS_FILE    = "${NOMAD_TASK_DIR}/payments.env"
      }

      # The product API lives in dc1. With change_mode = "noop" a lost link
      # to central never restarts this task: it keeps the address it has
      # (and reads the file again only while it has none).
      template {
        data        = <<EOH
{{ range service "shop-product-api" }}
PRODUCT_API_URI="http://{{ .Address }}:{{ .Port }}"
{{ end }}
EOH
        destination = "local/product-api.env"
        change_mode = "noop"
        env         = true
      }

      template {
        data        = <<EOH
{{ range service "shop-payments" }}
PAYMENTS_URI="http://{{ .Address }}:{{ .Port }}"
{{ end }}
EOH
        destination = "local/payments.env"
        change_mode = "noop"
        env         = true
      }

      service {
        name     = "shop-public-api"
        port     = "public"
        tags     = ["shop", "backend"]
        provider = "nomad"
        address  = "${attr.unique.network.ip-address}"

        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "frontend" {
      driver = "podman"

      meta {
        service = "frontend"
      }

      # Host networking: the container listens on NOMAD_IP/NOMAD_PORT
      # like an exec task and reaches its siblings on the host.
      config {
        image        = var.image
        command      = "/bin/frontend"
        network_mode = "host"
      }

      service {
        name     = "shop-frontend"
        port     = "frontend"
        tags     = ["shop", "frontend"]
        provider = "nomad"
        address  = "${attr.unique.network.ip-address}"

        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "proxy" {
      driver = "podman"

      meta {
        service = "nginx"
      }

      # Host networking: the container listens on NOMAD_IP/NOMAD_PORT
      # like an exec task and reaches its siblings on the host.
      config {
        image        = var.image
        command      = "/bin/proxy"
        network_mode = "host"
      }

      # Same group, same node: the sibling tasks' ports are in the env.
      env {
        PUBLIC_API_URI = "http://${NOMAD_ADDR_public}"
        FRONTEND_URI   = "http://${NOMAD_ADDR_frontend}"
      }

      service {
        name     = "shop-proxy"
        port     = "http"
        tags     = ["shop", "frontend"]
        provider = "nomad"
        address  = "${attr.unique.network.ip-address}"

        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }

  # The wasm driver hands a guest every port of its group as a pre-opened
  # listener, so payments has a group of its own.
  group "payments" {
    max_client_disconnect = "1h"

    network {
      port "payments" {}
    }

    task "payments" {
      driver = "wasm"

      meta {
        service = "payments-api"
      }

      config {
        module = "${var.bin_dir}/payments.wasm"
      }

      service {
        name     = "shop-payments"
        port     = "payments"
        tags     = ["shop", "backend"]
        provider = "nomad"
        address  = "${attr.unique.network.ip-address}"

        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 50
        memory = 16
      }
    }
  }
}
