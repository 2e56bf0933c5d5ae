# want: periodic_local.hcl:6: time zone "Local" is each server's own
job "p" {
  type = "batch"
  periodic {
    cron      = "@daily"
    time_zone = "Local"
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
