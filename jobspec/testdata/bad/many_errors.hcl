# Several problems come back together, one per line, in file order.
# want: many_errors.hcl:6: unknown job type "cron"
# want: many_errors.hcl:9: group "g" has negative count -1
# want: many_errors.hcl:11: unknown driver "java"
job "web" {
  type = "cron"

  group "g" {
    count = -1
    task "t" {
      driver = "java"
    }
  }
}
