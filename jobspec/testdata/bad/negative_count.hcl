# want: negative_count.hcl:4: group "g" has negative count -2
job "web" {
  group "g" {
    count = -2
    task "t" { driver = "exec" }
  }
}
