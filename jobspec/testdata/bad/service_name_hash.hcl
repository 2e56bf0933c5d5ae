# want: service_name_hash.hcl:7: service name "web#1" cannot be used in an MQTT topic
# want: use letters, digits and dashes
job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      service { name = "web#1" }
    }
  }
}
