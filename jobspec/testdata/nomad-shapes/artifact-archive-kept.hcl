# shape: a tarball taken as it is with options { archive = false } and unpacked by a prestart task
job "tarball-kept" {
  group "g" {
    task "unpack" {
      driver = "exec"

      lifecycle {
        hook = "prestart"
      }

      artifact {
        source      = "https://releases.example.com/app/1.2.0/app_linux_amd64.tar.gz"
        destination = "../alloc/"
        checksum    = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

        options {
          archive = false
        }
      }

      config {
        command = "/bin/tar"
        args    = ["-xzf", "${NOMAD_ALLOC_DIR}/app_linux_amd64.tar.gz", "-C", "${NOMAD_ALLOC_DIR}"]
      }
    }

    task "app" {
      driver = "exec"

      config {
        command = "${NOMAD_ALLOC_DIR}/app"
      }
    }
  }
}
