# want: periodic_fields.hcl:6: job "p" periodic: unknown attribute "cron_spec"; known: cron, crons, enabled, prohibit_overlap, time_zone
job "p" {
  type = "batch"
  periodic {
    enabled   = true
    cron_spec = "@daily"
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
