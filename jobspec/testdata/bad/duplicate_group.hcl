# want: duplicate_group.hcl:6: duplicate group "g"
job "web" {
  group "g" {
    task "t" { driver = "exec" }
  }
  group "g" {
    task "t" { driver = "exec" }
  }
}
