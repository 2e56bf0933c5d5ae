# want: reschedule_max_delay.hcl:6: reschedule max_delay 10s is below delay 1m; use a max_delay of at least the delay (1m)
job "web" {
  group "g" {
    reschedule {
      delay     = "1m"
      max_delay = "10s"
    }
    task "t" { driver = "exec" }
  }
}
