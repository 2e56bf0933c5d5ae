# shape: a template rendered from a source file an artifact downloaded, with attr/node references in env and constraint on the hostname
job "tmpl" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.unique.hostname}"
    operator  = "!="
    value     = "gateway-0"
  }

  group "g" {
    task "t" {
      driver = "exec"

      artifact {
        source      = "https://downloads.example.com/conf/app.conf.tpl"
        destination = "local/"
        checksum    = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
      }

      template {
        source      = "local/app.conf.tpl"
        destination = "local/app.conf"
      }

      env {
        ARCH     = "${attr.cpu.arch}"
        NODE_DC  = "${node.datacenter}"
        HOSTNAME = "${attr.unique.hostname}"
      }

      config {
        command = "/opt/app/app"
        args    = ["-c", "local/app.conf"]
      }
    }
  }
}
