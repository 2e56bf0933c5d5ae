# want: periodic.hcl:7: a periodic job must be of type "batch" or "sysbatch", not "service"
# want: periodic.hcl:8: bad cron expression "*/5 * * *": missing field(s)
# want: periodic.hcl:8: bad cron expression "0 0 * * * * * *": 8 fields, at most 7
# want: periodic.hcl:9: unknown time zone "Mars/Olympus_Mons"; use an IANA time zone name
job "p" {
  type = "service"
  periodic {
    crons     = ["*/5 * * *", "0 0 * * * * * *"]
    time_zone = "Mars/Olympus_Mons"
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
