# shape: constraints at job, group and task level in every form Nomad users write: attribute/operator/value, version, semver, regexp, set_contains, distinct_hosts, distinct_property, is_set
job "placed" {
  datacenters = ["dc1", "dc2"]

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.os.version}"
    operator  = "version"
    value     = ">= 11"
  }

  group "g" {
    count = 3

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    constraint {
      distinct_property = "${meta.rack}"
    }

    constraint {
      attribute = "${meta.gpu}"
      operator  = "is_not_set"
    }

    task "t" {
      driver = "exec"

      constraint {
        attribute = "${node.class}"
        regexp    = "^edge-"
      }

      constraint {
        attribute    = "${meta.features}"
        set_contains = "camera,modbus"
      }

      constraint {
        attribute = "${attr.nomad.version}"
        semver    = ">= 1.3.0"
      }

      config {
        command = "/opt/app/app"
      }
    }
  }
}
