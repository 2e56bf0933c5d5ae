# want: reschedule_delay.hcl:5: reschedule delay 2s is below the minimum of 5s; use a delay of 5s or more
# want: reschedule_delay.hcl:6: unknown reschedule delay_function "exponentail" (known: constant, exponential, fibonacci); did you mean "exponential"?
job "web" {
  reschedule {
    delay          = "2s"
    delay_function = "exponentail"
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}
