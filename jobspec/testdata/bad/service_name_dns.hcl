# want: service_name_dns.hcl:9: service name "web_api" is not a valid DNS label
# want: service_name_dns.hcl:6: service name "my_job-g" is not a valid DNS label
job "my_job" {
  group "g" {
    # the default name is job-group: my_job-g
    service {}
    task "t" {
      driver = "exec"
      service { name = "web_api" }
    }
  }
}
