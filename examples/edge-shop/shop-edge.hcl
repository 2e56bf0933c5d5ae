# The edge shop's edge half, like the tutorial's hashicups-edge.nomad.hcl:
# the public API, payments, the frontend and the reverse proxy in
# datacenter dc2, close to the customers. The card number goes to payments
# and stays at the edge. Submit after shop.hcl:
#
#   central job submit -var bin_dir=$PWD/examples/edge-shop/bin examples/edge-shop/shop-edge.hcl
#   curl http://127.0.0.1:8080/api/coffees
variable "datacenters" {
  type        = list(string)
  default     = ["dc2"]
  description = "datacenters of the edge half"
}

variable "bin_dir" {
  type        = string
  description = "absolute path, on the agent, of the directory build.sh filled"
}

variable "proxy_port" {
  type        = number
  default     = 8080
  description = "static host port of the reverse proxy (the tutorial's NGINX listens on 80)"
}

job "shop-edge" {
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
      driver = "exec"

      meta {
        service = "frontend"
      }

      config {
        command = "${var.bin_dir}/frontend"
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
      driver = "exec"

      meta {
        service = "nginx"
      }

      config {
        command = "${var.bin_dir}/proxy"
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
