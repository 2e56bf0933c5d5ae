# want: duplicate_resources.hcl:7: group "g" task "t": duplicate "resources" block; merge it with the one at line 6
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      resources { cpu = 100 }
      resources { memory = 100 }
    }
  }
}
