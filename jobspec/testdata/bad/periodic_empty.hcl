# want: periodic_empty.hcl:4: periodic has no cron expression
job "p" {
  type = "sysbatch"
  periodic {
    prohibit_overlap = true
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
