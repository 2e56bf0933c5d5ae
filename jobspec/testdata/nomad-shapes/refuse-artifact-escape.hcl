# shape: an artifact destination that leaves the allocation directory
# want: destination
job "escape" {
  group "g" {
    task "t" {
      driver = "exec"

      artifact {
        source      = "https://downloads.example.com/x.bin"
        destination = "../../x"
        checksum    = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
      }

      config {
        command = "/bin/true"
      }
    }
  }
}
