# want: port_label.hcl:11: service "web-g-t" uses port "htp", which the group's network does not define; did you mean "http"?
job "web" {
  group "g" {
    network {
      port "http" { to = 8080 }
    }
    task "t" {
      driver = "exec"
      service {
        provider = "tether"
        port     = "htp"
      }
    }
  }
}
