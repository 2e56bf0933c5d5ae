// Package scheduler turns an evaluation into a plan. It owns placement
// decisions and nothing else: it reads a State (central's snapshot), does
// no I/O, reads no clock and draws no randomness except what arrives in
// Options, so the same (state, eval, options) always gives the same plan.
//
// One call of Compute runs this pipeline (see README.md for a picture):
//
//	job := st.JobByID(eval)                      // missing or stopped → stop all
//	buckets := reconcile(job, st.AllocsByJob())  // place / stop / destructive / inplace / lost / disconnecting / reconnecting / ignore
//	                                             // (reconnected originals vs replacements: one per slot)
//	rollout gates destructive (deployment.go)    // max_parallel − unhealthy new allocs; none while canaries
//	                                             // wait or the deployment is failed/paused; Plan.Deployment
//	plan.Stop    += stop, lost, destructive      // frees their resources for what follows
//	plan.Place   += inplace updates, Reconnected events
//	plan.Unknown += running allocs on disconnected nodes inside their window
//	for each place request:
//	    walk the shuffled ready nodes:           // PRNG seeded from the eval ID
//	        feasible?  drivers, constraints, distinct_hosts, distinct_property
//	        fits?      cpu, memory, desired-state budgets (allocs, bytes), ports
//	        score      bin-packing + job anti-affinity
//	    until Options.CandidateLimit (default log2(nodes)) nodes were ranked
//	    best node → new alloc (ports picked, Score and Metrics recorded)
//	    none      → plan.Failed[group], plan.Queued[group]
//
// Service and batch jobs place count allocs per group anywhere; system jobs
// place one alloc per group on every feasible node; sysbatch jobs do too,
// once per node and job version.
package scheduler
