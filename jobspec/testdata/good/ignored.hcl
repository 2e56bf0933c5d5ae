# Nomad features Tether does not implement: parsed and ignored with a warning.
job "ign" {
  all_at_once = false
  update {
    max_parallel = 1
  }

  group "g" {
    ephemeral_disk {
      size = 300
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      logs {
        max_files = 2
      }
      artifact {
        source = "https://example.invalid/x.tgz"
      }
      resources {
        cpu        = 200
        memory     = 128
        memory_max = 256
      }
    }
  }
}
