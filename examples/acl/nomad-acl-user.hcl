# The policy of docs/acl.md's tutorial flow (Nomad's nomad-acl-user.hcl):
# read agents and nodes, list and submit jobs in every namespace.
#   central acl policy apply node-read-job-submit examples/acl/nomad-acl-user.hcl
agent {
  policy = "read"
}

node {
  policy = "read"
}

namespace "*" {
  policy       = "read"
  capabilities = ["submit-job", "dispatch-job", "read-logs"]
}
