# want: disconnect_negative.hcl:5: negative duration "-5m" for "lost_after"
job "web" {
  group "g" {
    disconnect {
      lost_after = "-5m"
    }
    task "t" { driver = "exec" }
  }
}
