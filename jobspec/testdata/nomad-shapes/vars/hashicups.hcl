# shape: a -var-file for hashicups.hcl and hashicups-edge.hcl, as the edge tutorial's terraform-style values
region            = "global"
datacenters       = ["dc1"]
postgres_user     = "shop"
postgres_password = "not-a-secret"
