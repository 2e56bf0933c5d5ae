# shape: variables of every type set from a -var-file, with one also set by -var (which wins) and one from NOMAD_VAR_ (below the file)
# var-file: vars/web.hcl
# var: replicas=3
# env: NOMAD_VAR_log_level=debug
variable "image" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

variable "dcs" {
  type = list(string)
}

variable "labels" {
  type    = map(string)
  default = {}
}

variable "log_level" {
  type    = string
  default = "info"
}

job "web" {
  datacenters = var.dcs

  meta = var.labels

  group "web" {
    count = var.replicas

    network {
      port "http" {
        to = 80
      }
    }

    task "nginx" {
      driver = "podman"

      config {
        image = var.image
        ports = ["http"]
      }

      env {
        LOG_LEVEL = var.log_level
      }
    }
  }
}
