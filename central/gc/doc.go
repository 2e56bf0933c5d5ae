// Package gc decides what central's state garbage collection deletes. It
// is pure: a state snapshot, the time and the thresholds in; a state.GC op
// out. The leader (central/server/gc.go) runs it every job_gc_interval and
// on `central system gc`, and commits the op through Raft; the FSM checks
// each deletion again (central/state/gc.go).
//
//	snapshot ──▶ Compute(src, now, thresholds, force) ──▶ state.GC ──▶ Split ──▶ Raft
//
// What is collectable (Nomad's rules, docs/operations.md):
//
//	evaluation   finished (complete, failed, canceled) for eval_gc_threshold
//	             (batch jobs: batch_eval_gc_threshold)
//	allocation   terminal for the same thresholds
//	             a batch job's evaluations and allocations only once the
//	             job is stopped or gone (or, forced, dead): the scheduler
//	             would run a finished batch allocation again
//	job          dead for job_gc_threshold: batch jobs, and stopped service
//	             and system jobs, with every allocation terminal and every
//	             evaluation finished; goes with its allocations, evaluations
//	             and versions
//	node         down for node_gc_threshold, with no live allocation
//	join token   expired for join_token_gc_threshold
//	ACL token    expired for acl_token_gc_threshold
//	versions     a job with more than job_tracked_versions versions
//
// Forced (`central system gc`) ignores every threshold, never the rules.
package gc
