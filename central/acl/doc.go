// Package acl owns Tether's access control model: policy files (HCL, the
// shape of Nomad's), the stored policy and token records, and the
// evaluation of a request's capability against a token's policies. It is
// pure: no I/O, no clock (expiry is checked against a time passed in).
//
//	p, err := acl.Parse("user.hcl", src)      // file:line errors
//	a, err := acl.Compile([]*acl.Policy{...})  // merge a token's policies
//	a.AllowNamespace("default", acl.CapSubmitJob)
//	a.AllowNode(acl.Write); a.AllowAgent(acl.Read); a.AllowOperator(acl.Write)
//	acl.Management                              // allows everything
//
// Rules follow Nomad: a namespace block's policy (read, write, scale,
// deny) expands to a set of capabilities, merged with the block's explicit
// capabilities; "deny" anywhere wins. A namespace is matched by an exact
// block first, else by the closest glob (fewest characters matched by
// "*"). node, agent and operator take deny, read or write; deny wins over
// any grant, write implies read.
package acl
