# A Nomad job in the style of the edge tutorial's HashiCups jobs, with only
# the driver and its config changed (docker -> exec).
variable "datacenters" {
  description = "Datacenters the job may run in."
  type        = list(string)
  default     = ["dc2"]
}

variable "region" {
  description = "Region to place the job in."
  type        = string
  default     = "global"
}

variable "api_version" {
  description = "Release of the api binary"
  default     = "v0.0.7"
}

variable "db_user" {
  default = "shop"
}

variable "api_port" {
  description = "API port"
  default     = 8081
}

# Begin Job Spec
job "shop-edge" {
  type        = "service"
  region      = var.region
  datacenters = var.datacenters

  group "shop-edge" {
    max_client_disconnect = "1h"

    network {
      port "api" {
        static = var.api_port
      }
      port "web" {
        static = 3000
      }
    }

    task "api" {
      driver = "exec"
      meta {
        service = "api"
      }
      service {
        port     = "api"
        tags     = ["shop", "backend"]
        provider = "nomad"
        address  = attr.unique.platform.aws.public-ipv4
      }
      config {
        command = "/opt/shop/api-${var.api_version}"
        args    = ["-listen", ":${NOMAD_PORT_api}"]
      }
      template {
        data        = <<EOH
{{ range nomadService "shop-db" }}
DB_CONNECTION="host={{ .Address }} port={{ .Port }} user=${var.db_user}"
{{ end }}
EOH
        change_mode = "noop"
        destination = "local/env.txt"
        env         = true
      }
      env {
        BIND_ADDRESS    = ":${NOMAD_PORT_api}"
        PAYMENT_API_URI = "http://${NOMAD_ADDR_payments-api}"
      }
    }

    task "web" {
      driver = "exec"
      service {
        port     = "web"
        tags     = ["shop", "frontend"]
        provider = "nomad"
        address  = attr.unique.platform.aws.public-ipv4
      }
      config {
        command = "/opt/shop/web"
        args    = ["-config", "local/default.conf"]
      }
      template {
        data        = <<EOF
upstream api {
  server {{ env "NOMAD_IP_api" }}:{{ env "NOMAD_PORT_api" }};
}
  proxy_set_header Upgrade $http_upgrade;
        EOF
        destination = "local/default.conf"
      }
    }
  }
}
