# A sysbatch job written with jobspec2's shorthand: tasks directly under
# job become groups of the same name, count 1. Restart defaults are batch's.
job "inventory" {
  type        = "sysbatch"
  datacenters = ["*"]

  task "collect" {
    driver = "exec"
    config {
      command = "/usr/bin/uname"
      args    = ["-a"]
    }
  }

  task "report" {
    driver = "exec"
    config {
      command = "/bin/true"
    }
  }
}
