# want: update.hcl:11: update healthy_deadline 10m must be less than progress_deadline 5m
# want: update.hcl:12: unknown update health_check "check"
# want: update.hcl:10: update min_healthy_time 20m must be less than healthy_deadline 10m
# want: update.hcl:19: update auto_promote needs canaries to promote
# want: update.hcl:25: update max_parallel -1 is negative
job "web" {
  group "a" {
    update {
      max_parallel      = 1
      min_healthy_time  = "20m"
      healthy_deadline  = "10m"
      health_check      = "check"
      progress_deadline = "5m"
    }
    task "t" { driver = "exec" }
  }
  group "b" {
    update {
      auto_promote = true
    }
    task "t" { driver = "exec" }
  }
  group "c" {
    update {
      max_parallel = -1
    }
    task "t" { driver = "exec" }
  }
}
