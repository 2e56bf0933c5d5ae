# shape: a parameterized batch job dispatched with a payload and meta: dispatch_payload, meta_required/meta_optional, NOMAD_META_x in args
job "transcode" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["input"]
    meta_optional = ["profile"]
  }

  meta {
    profile = "720p"
  }

  group "transcode" {
    task "ffmpeg" {
      driver = "podman"

      dispatch_payload {
        file = "job.json"
      }

      config {
        image = "docker.io/jrottenberg/ffmpeg:6.0-alpine"
        args  = ["-i", "${NOMAD_META_input}", "-preset", "${NOMAD_META_profile}", "${NOMAD_TASK_DIR}/out.mp4"]
      }

      resources {
        cpu    = 1000
        memory = 512
      }
    }
  }
}
