job "web" {
  update {
    max_parallel      = 2
    min_healthy_time  = "5s"
    healthy_deadline  = "1m"
    progress_deadline = "3m"
    auto_revert       = true
  }

  group "api" {
    count = 3
    update {
      canary       = 1
      auto_promote = true
      health_check = "task_states"
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/server"
      }
    }
  }

  group "worker" {
    task "w" {
      driver = "exec"
      config {
        command = "/bin/worker"
      }
    }
  }
}
