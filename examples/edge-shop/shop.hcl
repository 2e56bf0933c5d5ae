# The edge shop's on-prem half, like the tutorial's hashicups.nomad.hcl:
# the database and the product API in datacenter dc1. Build first
# (./build.sh), then submit with the absolute path of bin/:
#
#   central job submit -var bin_dir=$PWD/examples/edge-shop/bin examples/edge-shop/shop.hcl
variable "datacenters" {
  type        = list(string)
  default     = ["dc1"]
  description = "datacenters of the on-prem half"
}

variable "bin_dir" {
  type        = string
  description = "absolute path, on the agent, of the directory build.sh filled"
}

job "shop" {
  type        = "service"
  datacenters = var.datacenters

  group "shop" {
    network {
      port "db" {}
      port "api" {}
    }

    restart {
      attempts = 10
      interval = "5m"
      delay    = "1s"
      mode     = "delay"
    }

    task "db" {
      driver = "exec"

      meta {
        service = "database"
      }

      config {
        command = "${var.bin_dir}/shop-db"
      }

      # Orders live in the alloc dir, so they survive a restart of the task.
      env {
        SHOP_DB_FILE = "${NOMAD_ALLOC_DIR}/data/orders.json"
      }

      service {
        name     = "shop-db"
        port     = "db"
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

    task "product-api" {
      driver = "exec"

      meta {
        service = "product-api"
      }

      config {
        command = "${var.bin_dir}/product-api"
      }

      # The database's address from native service discovery, as a
      # connection string (change_mode restart: a moved database restarts
      # the API with the new address).
      template {
        data        = <<EOH
{{ range service "shop-db" }}
DB_CONNECTION="host={{ .Address }} port={{ .Port }} dbname=shop"
{{ end }}
EOH
        destination = "local/env.txt"
        env         = true
      }

      service {
        name     = "shop-product-api"
        port     = "api"
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
  }
}
