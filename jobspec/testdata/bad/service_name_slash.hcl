# want: service_name_slash.hcl:7: service name "shop/web" cannot be used in an MQTT topic
# want: use letters, digits and dashes
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      service { name = "shop/web" }
    }
  }
}
