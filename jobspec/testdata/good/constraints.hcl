job "cons" {
  constraint {
    distinct_hosts = true
  }
  constraint {
    distinct_hosts = false
  }
  constraint {
    attribute = "${attr.os.version}"
    version   = ">= 12"
  }
  constraint {
    attribute = "${attr.kernel.version}"
    semver    = ">= 6.1.0"
  }
  constraint {
    attribute = "${node.unique.name}"
    regexp    = "^pi-[0-9]+$"
  }
  constraint {
    attribute    = "${meta.features}"
    set_contains = "gpio,i2c"
  }
  constraint {
    attribute        = "${meta.features}"
    set_contains_any = "spi"
  }
  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
  }
  constraint {
    attribute = "${meta.maintenance}"
    operator  = "is_not_set"
  }

  group "g" {
    constraint {
      attribute = "${attr.memory.totalbytes}"
      operator  = ">="
      value     = "1000000"
    }
    task "t" {
      driver = "exec"
      constraint {
        attribute = "${attr.cpu.arch}"
        value     = "arm"
      }
      config {
        command = "/bin/true"
      }
    }
  }
}
