# want: lifecycle_no_main.hcl:3: group "g" has no main task (every task has a lifecycle block); add a task without a lifecycle block
job "web" {
  group "g" {
    task "init" {
      driver = "exec"
      lifecycle { hook = "prestart" }
    }
  }
}
