# want: disconnect_both.hcl:7: disconnect: lost_after (30m) and stop_on_client_after (1h) cannot both be set
# want: keep lost_after
job "web" {
  group "g" {
    disconnect {
      lost_after           = "30m"
      stop_on_client_after = "1h"
    }
    task "t" { driver = "exec" }
  }
}
