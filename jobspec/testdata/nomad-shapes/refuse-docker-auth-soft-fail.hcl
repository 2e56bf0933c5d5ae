# shape: `nomad job init`'s docker config kept as is under podman: auth_soft_fail is a Docker driver key
# want: auth_soft_fail
job "example" {
  group "cache" {
    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "podman"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }
    }
  }
}
