# shape: jobspec2's variables { } shorthand (names and defaults in one block) next to a variable block, with a task written directly under job
# var: image=docker.io/library/alpine:3.19
variables {
  dc      = "dc1"
  message = "hello"
}

variable "image" {
  type = string
}

job "shorthand" {
  datacenters = [var.dc]
  type        = "batch"

  task "echo" {
    driver = "podman"

    config {
      image = var.image
      args  = ["echo", var.message]
    }
  }
}
