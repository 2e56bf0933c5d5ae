# want: duration_number.hcl:5: bad duration for "interval": got number
job "web" {
  group "g" {
    restart {
      interval = 30
    }
    task "t" { driver = "exec" }
  }
}
