# shape: a sysbatch job run once on every node of a datacenter, with a node meta constraint
job "firmware-check" {
  datacenters = ["dc2"]
  type        = "sysbatch"

  constraint {
    attribute = "${meta.board}"
    operator  = "set_contains_any"
    value     = "pi4,pi5"
  }

  group "check" {
    task "check" {
      driver = "exec"

      config {
        command = "/usr/bin/vcgencmd"
        args    = ["bootloader_version"]
      }
    }
  }
}
