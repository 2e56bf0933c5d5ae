# shape: `nomad job init`'s ephemeral_disk block (Tether neither reserves disk nor migrates it)
# want: ephemeral_disk
job "example" {
  group "cache" {
    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "podman"

      config {
        image = "redis:7"
      }
    }
  }
}
