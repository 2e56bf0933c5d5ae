# reschedule: the job's block is merged into each group's; a group's
# fields win. Defaults per job type fill what neither wrote.
job "rs" {
  reschedule {
    delay          = "10s"
    delay_function = "fibonacci"
    max_delay      = "5m"
  }

  group "api" {
    reschedule {
      max_delay = "2m"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }

  group "limited" {
    reschedule {
      attempts  = 3
      interval  = "1h"
      unlimited = false
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }

  group "defaults" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
