# shape: the edge tutorial's edge HashiCups job (public-api, payments, frontend, nginx): max_client_disconnect, nomadService templates with change_mode noop, NOMAD_PORT_x/NOMAD_ADDR_x env, nginx config reading env "NOMAD_PORT_public_api" (docker -> podman, mount -> volumes)
# var-file: vars/hashicups-edge.hcl
variable "datacenters" {
  description = "A list of datacenters in the region which are eligible for task placement."
  type        = list(string)
  default     = ["dc2"]
}

variable "region" {
  description = "The region where the job should be placed."
  type        = string
  default     = "global"
}

variable "frontend_version" {
  description = "Docker version tag"
  default     = "v1.0.2"
}

variable "public_api_version" {
  description = "Docker version tag"
  default     = "v0.0.6"
}

variable "payments_version" {
  description = "Docker version tag"
  default     = "v0.0.12"
}

variable "public_api_port" {
  description = "Public API Port"
  default     = 8080
}

variable "payments_api_port" {
  description = "Payments API Port"
  default     = 8081
}

variable "nginx_port" {
  description = "Nginx Port"
  default     = 80
}

# Begin Job Spec
job "hashicups-edge" {
  type        = "service"
  region      = var.region
  datacenters = var.datacenters

  group "hashicups-edge" {
    max_client_disconnect = "1h"

    network {
      port "public-api" {
        static = var.public_api_port
      }
      port "payments-api" {
        static = var.payments_api_port
      }
      port "frontend" {
        static = 3000
      }
      port "nginx" {
        static = var.nginx_port
      }
    }

    task "public-api" {
      driver = "podman"

      meta {
        service = "public-api"
      }

      service {
        port     = "public-api"
        tags     = ["hashicups", "backend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image = "hashicorpdemoapp/public-api:${var.public_api_version}"
        ports = ["public-api"]
      }

      template {
        data        = <<EOH
{{ range nomadService "hashicups-hashicups-product-api" }}
PRODUCT_API_URI="http://{{.Address}}:{{.Port}}"
{{ end }}
EOH
        change_mode = "noop"
        destination = "local/env.txt"
        env         = true
      }

      env {
        BIND_ADDRESS     = ":${var.public_api_port}"
        PAYMENT_API_URI  = "http://${NOMAD_ADDR_payments-api}"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "payments-api" {
      driver = "podman"

      meta {
        service = "payments-api"
      }

      service {
        port     = "payments-api"
        tags     = ["hashicups", "backend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image = "hashicorpdemoapp/payments:${var.payments_version}"
        ports = ["payments-api"]
      }

      resources {
        cpu    = 100
        memory = 256
      }
    }

    task "frontend" {
      driver = "podman"

      meta {
        service = "frontend"
      }

      service {
        port     = "frontend"
        tags     = ["hashicups", "frontend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image = "hashicorpdemoapp/frontend:${var.frontend_version}"
        ports = ["frontend"]
      }

      env {
        NEXT_PUBLIC_PUBLIC_API_URL = "/"
        PORT                       = "${NOMAD_PORT_frontend}"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "nginx" {
      driver = "podman"

      meta {
        service = "nginx"
      }

      service {
        port     = "nginx"
        tags     = ["hashicups", "frontend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image   = "nginx:alpine"
        ports   = ["nginx"]
        volumes = ["local:/etc/nginx/conf.d"]
      }

      template {
        data        = <<EOF
proxy_cache_path /var/cache/nginx levels=1:2 keys_zone=STATIC:10m inactive=7d use_temp_path=off;
upstream frontend_upstream {
  server {{ env "NOMAD_IP_frontend" }}:{{ env "NOMAD_PORT_frontend" }};
}
server {
  listen {{ env "NOMAD_PORT_nginx" }};
  server_name {{ env "NOMAD_IP_nginx" }};
  location /api {
    proxy_pass http://{{ env "NOMAD_IP_public_api" }}:{{ env "NOMAD_PORT_public_api" }};
  }
  location / {
    proxy_pass http://frontend_upstream;
  }
}
proxy_cache_path /var/cache/nginx levels=1:2 keys_zone=STATIC:10m inactive=7d use_temp_path=off;
upstream frontend_upstream {
  server {{ env "NOMAD_IP_frontend" }}:{{ env "NOMAD_PORT_frontend" }};
}
server {
  listen {{ env "NOMAD_PORT_nginx" }};
  server_name {{ env "NOMAD_IP_nginx" }};
  location /api {
    proxy_pass http://{{ env "NOMAD_IP_public_api" }}:{{ env "NOMAD_PORT_public_api" }};
  }
  location / {
    proxy_pass http://frontend_upstream;
  }
}
EOF
        destination = "local/default.conf"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
