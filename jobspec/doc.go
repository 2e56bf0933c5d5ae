// Package jobspec owns Tether's job files: HCL2 text in, a validated *Job out.
//
// The shape is Nomad's job spec (variable, job, group, task, network, service,
// template, restart, disconnect, constraint ...), so a Nomad user's file runs
// after changing only the task's driver and config. The pipeline is:
//
//	src ──hclsyntax.ParseConfig──▶ AST
//	    ──variables: defaults < NOMAD_VAR_ < -var (typed)──▶ eval context
//	      (+ Nomad's functions, metered and guarded: functions.go; file()
//	      through ParseOptions.ReadFile: files.go)
//	    ──rewrite runtime refs (attr.*, node.*, meta.*, env.*, NOMAD_*, TETHER_*)
//	      and other unknown roots (with a warning) into literal "${...}"
//	      text for the agent──▶
//	    ──decode (hand-walked bodies, unknown names get "did you mean")──▶ *Job
//	    ──Canonicalize (Nomad's defaults)──▶ Validate──▶ *Job or Errors
//
// Validate also runs what an agent would refuse, with the agent's own code
// (submitchecks.go): each task's driver config (drivers/schema), each
// template's text (agent/template.Check) and each artifact block
// (agent/artifact.Check).
//
// Every user-facing problem is an *Error carrying file:line and a fix;
// several of them come back together as Errors, one per line.
// Canonicalize and Validate are exported so central can re-check a job that
// arrived as JSON.
package jobspec
