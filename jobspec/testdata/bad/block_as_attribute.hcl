# want: block_as_attribute.hcl:5: group "g" task "t": "resources" is a block, not an attribute; write it as a block: resources { ... }
job "web" {
  group "g" {
    task "t" {
      resources = { cpu = 100 }
      driver    = "exec"
    }
  }
}
