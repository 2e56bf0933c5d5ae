# shape: a -var-file for hashicups-edge.hcl: the edge datacenter
datacenters     = ["dc2"]
public_api_port = 8081
