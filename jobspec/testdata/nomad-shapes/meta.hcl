# shape: meta at job, group and task level (block and map forms, dotted keys), read back through ${NOMAD_META_x} in env and {{ env }} in a template
job "meta" {
  datacenters = ["dc1"]

  meta {
    team    = "edge"
    version = "2"
  }

  group "g" {
    meta = {
      "release.channel" = "stable"
    }

    task "t" {
      driver = "exec"

      meta {
        role = "collector"
      }

      config {
        command = "/opt/collector/collector"
        args    = ["-team", "${NOMAD_META_team}", "-role", "${NOMAD_META_role}"]
      }

      env {
        CHANNEL = "${NOMAD_META_release_channel}"
        NODE    = "${node.unique.name}"
        RACK    = "${meta.rack}"
      }

      template {
        data        = "version={{ env \"NOMAD_META_version\" }}\n"
        destination = "local/meta.txt"
      }
    }
  }
}
