# want: reschedule_interval.hcl:9: reschedule: 5 attempts with delay 1m (constant) do not fit in an interval of 4m; set interval to at least 5m
job "web" {
  type = "batch"
  group "g" {
    reschedule {
      attempts       = 5
      delay          = "1m"
      delay_function = "constant"
      interval       = "4m"
    }
    task "t" { driver = "exec" }
  }
}
