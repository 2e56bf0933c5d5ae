# want: service_name_plus.hcl:7: service name "web+api" cannot be used in an MQTT topic
# want: use letters, digits and dashes
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      service { name = "web+api" }
    }
  }
}
