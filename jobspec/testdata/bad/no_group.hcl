# want: no_group.hcl:2: job "web" has no group
job "web" {
  datacenters = ["dc1"]
}
