# want: unknown_reference.hcl:6: unknown reference "region"; write var.region
variable "region" {
  default = "global"
}
job "web" {
  region = region
  group "g" {
    task "t" { driver = "exec" }
  }
}
