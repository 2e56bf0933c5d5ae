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
        args = concat(
          ["-port", "${NOMAD_PORT_http}", "-node", "${node.unique.name}", TETHER_ALLOC_ID, "${env.HOME}/x"],
          ["$${not_interpolated}", "${HOME}:${GREETING}", "${upper("tag")}-${attr.os.version}", attr.unique.hostname],
          [for n in ["a", "b"] : "${n}-${NOMAD_ALLOC_INDEX}"],
        )
        work_dir = { host = attr.unique.hostname }.host
      }
      env {
        DC       = "${node.datacenter}"
        GREETING = "hi"
      }
    }
  }
}
