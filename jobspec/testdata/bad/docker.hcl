# want: docker.hcl:5: unknown driver "docker"
# want: set driver = "podman"
job "web" {
  group "g" {
    task "t" { driver = "docker" }
  }
}
