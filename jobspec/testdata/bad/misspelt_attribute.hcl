# want: misspelt_attribute.hcl:3: job "web": unknown attribute "datacentres"; did you mean "datacenters"?
job "web" {
  datacentres = ["dc1"]
  group "g" {
    task "t" { driver = "exec" }
  }
}
