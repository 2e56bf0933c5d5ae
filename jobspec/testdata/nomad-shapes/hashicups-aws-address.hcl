# shape: the edge tutorial's db service as written there, address = attr.unique.platform.aws.public-ipv4 (parses; nodes without that attribute are plan's and the monitor's to report)
# plan-warn: refers to node attribute "unique.platform.aws.public-ipv4", which none of the
# plan-warn: unique.network.ip-address
job "hashicups-db" {
  datacenters = ["dc1"]

  group "db" {
    network {
      port "db" {
        static = 5432
      }
    }

    task "db" {
      driver = "podman"

      service {
        port     = "db"
        tags     = ["hashicups", "backend"]
        provider = "nomad"
        address  = attr.unique.platform.aws.public-ipv4
      }

      config {
        image = "hashicorpdemoapp/product-api-db:v0.0.20"
        ports = ["db"]
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
