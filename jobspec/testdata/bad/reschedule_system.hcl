# want: reschedule_system.hcl:5: reschedule does not apply to system jobs; remove the reschedule block
job "web" {
  type = "system"
  group "g" {
    reschedule {
      attempts = 1
    }
    task "t" { driver = "exec" }
  }
}
