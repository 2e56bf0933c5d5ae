# shape: a variable without a default given only by NOMAD_VAR_ in the environment, as the tutorials do (export NOMAD_VAR_datacenters='["dc2"]')
# env: NOMAD_VAR_datacenters=["dc2"]
# env: NOMAD_VAR_version=1.2.3
variable "datacenters" {
  type = list(string)
}

variable "version" {
  type = string
}

job "app" {
  datacenters = var.datacenters

  group "app" {
    task "app" {
      driver = "exec"

      config {
        command = "/opt/app/app-${var.version}"
      }
    }
  }
}
