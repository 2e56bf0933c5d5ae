# shape: a periodic batch job (cron, prohibit_overlap, time_zone) cleaning up with a podman task
job "cleanup" {
  datacenters = ["dc1", "dc2"]
  type        = "batch"

  periodic {
    crons            = ["0 3 * * *"]
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
  }

  group "cleanup" {
    task "prune" {
      driver = "podman"

      config {
        image   = "docker.io/library/busybox:1.36"
        command = "sh"
        args    = ["-c", "find /data -mtime +7 -delete"]
        volumes = ["/srv/data:/data"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
