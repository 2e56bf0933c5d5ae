# want: var_missing.hcl:2: variable "region" has no value; pass -var region=value
variable "region" {
  type = string
}
job "web" {
  region = var.region
  group "g" {
    task "t" { driver = "exec" }
  }
}
