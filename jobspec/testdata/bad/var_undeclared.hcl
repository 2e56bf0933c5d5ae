# want: var_undeclared.hcl:7: unknown variable var.regoin; did you mean var.region?
variable "region" {
  default = "global"
}
job "web" {
  group "g" {
    task "t" { driver = var.regoin }
  }
}
