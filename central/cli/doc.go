// Package cli owns the verbs of the `central` binary that talk to a running
// server: job, node, alloc, eval, service, server, operator and status. It speaks
// only the HTTP API (central/api); it never opens state or Raft itself.
//
// Run dispatches on the first one or two words, parses the verb's flags
// (every verb takes -address and -token, every read verb -json), calls the
// API and prints Nomad-style output:
//
//	central job submit web.hcl      POST /v1/jobs, then monitor the evaluation
//	central job status web          GET /v1/job/web, .../summary, .../allocations
//	central alloc status -json 8ba8 GET /v1/allocation/8ba8, body printed as is
//	central service info -tag v1 api GET /v1/service/api?tag=v1 (healthy instances)
//
// Exit codes: 0 success, 1 error, 2 the scheduler could not place every
// allocation (as `nomad job run`).
package cli
