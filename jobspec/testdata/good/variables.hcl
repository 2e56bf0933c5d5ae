variable "name" {
  type    = string
  default = "world"
}

variable "replicas" {
  type    = number
  default = 2
  validation {
    condition     = var.replicas > 0
    error_message = "replicas must be positive."
  }
}

variable "debug" {
  type    = bool
  default = false
}

variable "dcs" {
  type    = list(string)
  default = ["dc1", "dc2"]
}

variable "labels" {
  type    = map(string)
  default = { team = "edge", tier = "web" }
}

locals {
  greeting = "hello ${var.name}"
  shout    = upper(local.greeting)
}

job "vars" {
  datacenters = concat(var.dcs, ["dc9"])
  meta        = var.labels

  group "g" {
    count = var.replicas

    task "t" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args = concat([
          local.shout,
          lower("MiXeD"),
          format("%s-%03d", var.name, 7),
          join(",", var.dcs),
          jsonencode({ a = 1, b = [true, "x"] }),
          replace("a.b.c", ".", "/"),
          trimspace("  padded  "),
          var.debug ? "debug" : "quiet",
        ], split(",", "x,y,z"))
      }
      template {
        destination = "local/cfg.txt"
        data        = <<-EOT
          name = ${var.name}
          {{ with service "db" }}{{ .Address }}{{ end }}
          EOT
      }
    }
  }
}
