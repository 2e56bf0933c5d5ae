# shape: the edge tutorial's primary-datacenter HashiCups job (db + product-api): variables, provider "nomad" services addressed by a node attribute, a nomadService template building env with ${var.x} (docker -> podman)
# var-file: vars/hashicups.hcl
variable "datacenters" {
  description = "A list of datacenters in the region which are eligible for task placement."
  type        = list(string)
  default     = ["dc1"]
}

variable "region" {
  description = "The region where the job should be placed."
  type        = string
  default     = "global"
}

variable "postgres_db" {
  description = "Postgres DB name"
  default     = "products"
}

variable "postgres_user" {
  description = "Postgres DB User"
}

variable "postgres_password" {
  description = "Postgres DB Password"
}

variable "product_api_port" {
  description = "Product API Port"
  default     = 9090
}

# Begin Job Spec
job "hashicups" {
  type        = "service"
  region      = var.region
  datacenters = var.datacenters

  group "hashicups" {
    network {
      port "db" {
        static = 5432
      }
      port "product-api" {
        static = var.product_api_port
      }
    }

    task "db" {
      driver = "podman"

      meta {
        service = "database"
      }

      service {
        port     = "db"
        tags     = ["hashicups", "backend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image = "hashicorpdemoapp/product-api-db:v0.0.20"
        ports = ["db"]
      }

      env {
        POSTGRES_DB       = var.postgres_db
        POSTGRES_USER     = var.postgres_user
        POSTGRES_PASSWORD = var.postgres_password
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }

    task "product-api" {
      driver = "podman"

      meta {
        service = "product-api"
      }

      service {
        port     = "product-api"
        tags     = ["hashicups", "backend"]
        provider = "nomad"
        address  = attr.unique.network.ip-address
      }

      config {
        image = "hashicorpdemoapp/product-api:v0.0.20"
        ports = ["product-api"]
      }

      template {
        data        = <<EOH
{{ range nomadService "hashicups-hashicups-db" }}
DB_CONNECTION="host={{ .Address }} port={{ .Port }} user=${var.postgres_user} password=${var.postgres_password} dbname=${var.postgres_db} sslmode=disable"
{{ end }}
EOH
        destination = "local/env.txt"
        env         = true
      }

      env {
        BIND_ADDRESS = ":${var.product_api_port}"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
