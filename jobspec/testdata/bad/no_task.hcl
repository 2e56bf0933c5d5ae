# want: no_task.hcl:3: group "g" has no task
job "web" {
  group "g" {
    count = 1
  }
}
