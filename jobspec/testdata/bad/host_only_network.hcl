# Parsed and then dropped, once: a group network namespace, named host
# networks, driver/alloc addresses and render_templates = false are refused
# with what to write instead.
# want: host_only_network.hcl:14: network mode "bridge" is not supported: a group's tasks share the host's network (there is no group network namespace); write mode = "host" or leave it out; a Podman task can have its own network with config { network_mode = "bridge" }
# want: host_only_network.hcl:17: port "http": host network "private" is not supported: agents have no named host networks; remove host_network (or write "default"): ports are on the address the agent advertises (its -advertise flag)
# want: host_only_network.hcl:22: render_templates = false is not supported: Tether always renders a task's templates again before restarting it; remove render_templates, or write render_templates = true
# want: host_only_network.hcl:32: address_mode "driver" is not supported: a service is registered with the node's address and the host port; write address_mode = "host" or leave it out
# want: host_only_network.hcl:37: check address_mode "alloc" is not supported: checks probe the node's address and the host port; write address_mode = "host" or leave it out
job "web" {
  datacenters = ["dc1"]

  group "web" {
    network {
      mode = "bridge"
      port "http" {
        to           = 8080
        host_network = "private"
      }
    }
    restart {
      attempts         = 2
      render_templates = false
    }

    task "web" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      service {
        port         = "http"
        address_mode = "driver"
        check {
          type         = "http"
          path         = "/"
          interval     = "10s"
          address_mode = "alloc"
          timeout      = "2s"
        }
      }
    }
  }
}
