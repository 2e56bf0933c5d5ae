# want: shell_var.hcl:8: unknown reference "count"; write var.NAME for a variable; runtime references start with attr., node., meta. or env., or are UPPER_CASE; write $${count} to keep the text as it is
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      template {
        destination = "local/run.sh"
        data        = "for i in 1 2; do count=$i; echo ${count}; done"
      }
    }
  }
}
