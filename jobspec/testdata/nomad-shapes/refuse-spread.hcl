# shape: spread over datacenters with percentages, which Tether does not implement
# want: spread
# want: distinct_property
job "spread" {
  group "g" {
    count = 4

    spread {
      attribute = "${node.datacenter}"

      target "dc1" {
        percent = 50
      }

      target "dc2" {
        percent = 50
      }
    }

    task "t" {
      driver = "exec"

      config {
        command = "/opt/app/app"
      }
    }
  }
}
