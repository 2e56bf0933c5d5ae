// Package jobplan is `job plan`'s dry run: the scheduler run over a state
// snapshot as if a job had just been submitted, without Raft, and the
// plan it makes described for people. Pure, like the scheduler: a State
// and a job in, a Result out.
//
//	cur  := st.JobByID(job)                       // the running version, if any
//	cand := same spec ? cur : next version of job // as the state store would register it
//	plan := scheduler.Compute(st with cand, eval) // the leader's own code
//	describe(plan)  → per group: place, stop, migrate, in-place, destructive, canary, ignore;
//	                  per allocation: its node's name; failures and queued counts
//	JobDiff(cur, cand)                            // fields, blocks, groups, tasks: added, deleted, edited
//	AddressWarnings(cand, nodes)                  // service addresses no eligible node resolves
package jobplan
