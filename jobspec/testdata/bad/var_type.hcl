# var: replicas=lots
# want: -var replicas="lots": not a number
variable "replicas" {
  type    = number
  default = 1
}
job "web" {
  group "g" {
    count = var.replicas
    task "t" { driver = "exec" }
  }
}
