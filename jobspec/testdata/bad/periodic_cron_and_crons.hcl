# want: periodic_cron_and_crons.hcl:6: periodic sets both cron and crons
# want: keep only crons
job "p" {
  type = "batch"
  periodic {
    cron  = "@daily"
    crons = ["@hourly"]
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
