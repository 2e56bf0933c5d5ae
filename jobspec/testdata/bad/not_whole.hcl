# want: not_whole.hcl:4: "count" must be a whole number, got 1.5
job "web" {
  group "g" {
    count = 1.5
    task "t" { driver = "exec" }
  }
}
