# shape: a Docker-only privileged container kept under podman
# want: privileged
job "priv" {
  group "g" {
    task "t" {
      driver = "podman"

      config {
        image      = "docker.io/library/busybox:1.36"
        privileged = true
      }
    }
  }
}
