job "refs" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.cpu.arch}"
    value     = "arm64"
  }

  constraint {
    attribute = attr.kernel.name
    operator  = "=="
    value     = "linux"
  }

  constraint {
    attribute = meta["rack.row"]
    operator  = "!="
    value     = node.class
  }

  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/app"
        args    = ["-port", "${NOMAD_PORT_http}", "-node", "${node.unique.name}", TETHER_ALLOC_ID, "${env.HOME}/x"]
        literal = "$${not_interpolated}"
        envvars = "${HOME}:${GREETING}"
        mixed   = "${upper("tag")}-${attr.os.version}"
        nested  = { host = attr.unique.hostname }
        listed  = [for n in ["a", "b"] : "${n}-${NOMAD_ALLOC_INDEX}"]
      }
      env {
        DC       = "${node.datacenter}"
        GREETING = "hi"
      }
    }
  }
}
