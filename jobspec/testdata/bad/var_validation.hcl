# var: port=80
# want: var_validation.hcl:7: port must be above 1024; pass a value that satisfies the condition
variable "port" {
  type = number
  default = 8080
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024."
  }
}
job "web" {
  group "g" {
    network {
      port "http" { static = var.port }
    }
    task "t" { driver = "exec" }
  }
}
