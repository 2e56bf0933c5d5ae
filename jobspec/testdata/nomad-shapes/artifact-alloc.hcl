# shape: an artifact downloaded into the shared alloc dir with destination = "../alloc/x", read by a second task
job "shared" {
  datacenters = ["dc1"]

  group "g" {
    task "fetch" {
      driver = "exec"

      lifecycle {
        hook = "prestart"
      }

      artifact {
        source      = "https://downloads.example.com/model/v3/model.bin"
        destination = "../alloc/data/"
        checksum    = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
      }

      config {
        command = "/bin/true"
      }
    }

    task "serve" {
      driver = "exec"

      config {
        command = "/opt/serve/serve"
        args    = ["-model", "${NOMAD_ALLOC_DIR}/data/model.bin"]
      }
    }
  }
}
