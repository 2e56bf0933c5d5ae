# shape: an artifact whose source names the node's OS and architecture (app_${attr.kernel.name}_${attr.cpu.arch}) and whose destination uses ${NOMAD_TASK_DIR}, run by an exec task
job "fleet-agent" {
  datacenters = ["*"]
  type        = "system"

  group "agent" {
    task "agent" {
      driver = "exec"

      artifact {
        source      = "https://releases.example.com/fleet-agent/2.0.1/fleet-agent_${attr.kernel.name}_${attr.cpu.arch}"
        destination = "${NOMAD_TASK_DIR}/bin/"
      }

      config {
        command = "${NOMAD_TASK_DIR}/bin/fleet-agent_${attr.kernel.name}_${attr.cpu.arch}"
      }
    }
  }
}
