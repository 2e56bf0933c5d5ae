# shape: a template calling sockaddr to find the node's private IP (use {{ env "NOMAD_IP_<port>" }})
# want: sockaddr
job "sock" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        data        = "BIND={{ sockaddr \"GetPrivateIP\" }}\n"
        destination = "local/env"
        env         = true
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
