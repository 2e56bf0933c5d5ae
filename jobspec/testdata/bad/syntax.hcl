# want: syntax.hcl:4:
job "web" {
  group "g" {
    task "t" { driver = = "exec" }
  }
}
