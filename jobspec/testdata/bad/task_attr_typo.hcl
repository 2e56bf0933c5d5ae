# want: task_attr_typo.hcl:6: group "g" task "t": unknown attribute "kill_timout"; did you mean "kill_timeout"?
job "web" {
  group "g" {
    task "t" {
      driver      = "exec"
      kill_timout = "10s"
    }
  }
}
