# want: no_job.hcl:1: no job block
variable "x" {
  default = 1
}
