# shape: a Consul Connect-style group network in bridge mode (tasks share the host's network here; a Podman task can have its own with config { network_mode = "bridge" })
# want: bridge
# want: network_mode
job "countdash" {
  group "api" {
    network {
      mode = "bridge"

      port "http" {
        to = 9001
      }
    }

    task "web" {
      driver = "podman"

      config {
        image = "hashicorpdev/counter-api:v3"
        ports = ["http"]
      }
    }
  }
}
