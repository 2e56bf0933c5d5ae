# want: consul.hcl:8: service provider "consul" is not supported
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      service {
        name     = "web"
        provider = "consul"
      }
    }
  }
}
