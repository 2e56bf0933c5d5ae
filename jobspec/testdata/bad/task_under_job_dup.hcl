# want: task_under_job_dup.hcl:12: duplicate group "web"
job "j" {
  group "web" {
    task "web" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }

  task "web" {
    driver = "exec"
    config {
      command = "/bin/true"
    }
  }
}
