# shape: a batch job: restart and reschedule for batch, an https artifact with a checksum, an exec task running it with args from NOMAD_* variables
job "report" {
  datacenters = ["dc1"]
  type        = "batch"

  reschedule {
    attempts  = 3
    interval  = "24h"
    delay     = "30s"
    unlimited = false
  }

  group "report" {
    count = 1

    restart {
      attempts = 1
      interval = "1h"
      delay    = "10s"
      mode     = "fail"
    }

    task "report" {
      driver = "exec"

      artifact {
        source      = "https://releases.example.com/report/1.4.0/report-linux-amd64"
        destination = "local/"
        checksum    = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
      }

      config {
        command = "local/report-linux-amd64"
        args    = ["-out", "${NOMAD_ALLOC_DIR}/data/report.json", "-id", "${NOMAD_ALLOC_ID}"]
      }

      resources {
        cpu    = 200
        memory = 64
      }
    }
  }
}
