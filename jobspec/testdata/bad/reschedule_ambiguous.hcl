# want: reschedule_ambiguous.hcl:6: reschedule: attempts = 3 and unlimited = true contradict each other; write unlimited = false
job "web" {
  group "g" {
    reschedule {
      interval = "1h"
      attempts = 3
    }
    task "t" { driver = "exec" }
  }
}
