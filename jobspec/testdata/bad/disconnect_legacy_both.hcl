# want: disconnect_legacy_both.hcl:5: disconnect: lost_after (2h) and stop_on_client_after (1h30m) cannot both be set
job "web" {
  group "g" {
    max_client_disconnect        = "2h"
    stop_after_client_disconnect = "90m"
    task "t" { driver = "exec" }
  }
}
