# shape: a job calling Nomad's HCL functions: file() relative to the job file, base64encode, uuidv5, format, jsonencode/jsondecode, merge, lookup, upper, join, split, replace, concat, keys, coalesce
variable "env" {
  type    = string
  default = "staging"
}

variable "extra_env" {
  type    = map(string)
  default = {}
}

locals {
  defaults = {
    LOG_LEVEL = "info"
    REGION    = "eu"
  }
  settings = jsondecode(file("files/settings.json"))
  sizes    = { staging = 64, production = 256 }
}

job "functions" {
  datacenters = ["dc1"]

  meta {
    instance_id = uuidv5("dns", "functions.${var.env}.example.com")
    owner       = upper("platform")
    flags       = join(",", local.settings.feature_flags)
  }

  group "web" {
    count = length(split(",", "a,b"))

    network {
      port "http" {}
    }

    task "nginx" {
      driver = "podman"

      config {
        image = format("nginx:%s", "1.25-alpine")
        ports = ["http"]
        args  = concat(["-g"], [replace("daemon off;", "off", "off")])
      }

      env = merge(local.defaults, var.extra_env, {
        APP_ENV       = var.env
        CONFIG_B64    = base64encode(file("files/nginx.conf"))
        SETTINGS_JSON = jsonencode(local.settings)
        MEMORY_HINT   = tostring(lookup(local.sizes, var.env, 64))
        FIRST_KEY     = keys(local.defaults)[0]
        OWNER         = coalesce("", "platform")
      })

      template {
        data        = file("files/nginx.conf")
        destination = "local/nginx.conf"
      }

      resources {
        cpu    = 100
        memory = lookup(local.sizes, var.env, 64)
      }
    }
  }
}
