# var: regoin=eu
# want: var_unknown_flag.hcl: -var regoin: the file declares no variable "regoin"; did you mean -var region=...?
variable "region" {
  default = "global"
}
job "web" {
  region = var.region
  group "g" {
    task "t" { driver = "exec" }
  }
}
