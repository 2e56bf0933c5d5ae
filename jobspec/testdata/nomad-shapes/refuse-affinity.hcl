# shape: a soft placement preference (affinity), which Tether does not implement
# want: affinity
job "aff" {
  group "g" {
    affinity {
      attribute = "${node.datacenter}"
      value     = "dc2"
      weight    = 100
    }

    task "t" {
      driver = "exec"

      config {
        command = "/opt/app/app"
      }
    }
  }
}
