# shape: locals computed from variables and from other locals (conditionals, for expressions, string templates), used in datacenters, count, env and config
variable "stage" {
  type    = string
  default = "prod"
}

variable "sites" {
  type    = list(string)
  default = ["north", "south"]
}

locals {
  is_prod     = var.stage == "prod"
  datacenters = [for s in var.sites : "edge-${s}"]
  replicas    = local.is_prod ? 2 : 1
  image       = "docker.io/library/redis:${local.is_prod ? "7.2" : "7"}"
  tags        = { for s in var.sites : s => upper(s) }
}

job "locals" {
  datacenters = local.datacenters

  group "cache" {
    count = local.replicas

    network {
      port "redis" {
        to = 6379
      }
    }

    task "redis" {
      driver = "podman"

      config {
        image = local.image
        ports = ["redis"]
      }

      env = local.tags
    }
  }
}
