// Package state owns central's replicated state: an indexed in-memory store
// (go-memdb) of jobs, nodes, allocations and evaluations, and the Raft FSM
// that changes it by applying CBOR-encoded commands.
//
// # Tables
//
//	jobs          latest version of each job          id (namespace, id)
//	job_versions  kept versions of each job           id (namespace, id, version)
//	nodes         agents                              id
//	allocs        allocations                         id, node (node_id), job (namespace, job_id)
//	evals         evaluations                         id, job (namespace, job_id), status
//	services      service instances                   id, name (service_name, namespace), alloc (alloc_id)
//	index         raft index at which a table changed id (table name)
//
// A job keeps its newest versions (UpsertJob.KeepVersions, the leader's
// job_tracked_versions, default 6), plus any older version an allocation
// in the store still refers to. Allocation.Job is not serialised: the
// store points it at the job version (JobID, JobVersion) whenever it
// inserts or restores an allocation. Stored values are immutable; every
// change inserts a copy.
//
// # Commands
//
// Every write is a Command: a batch of Ops applied in order in one memdb
// write transaction, at one raft index. An op that fails validation is
// skipped whole and reported in ApplyResult.Err; the rest still apply.
//
//	UpsertJob        new version if the spec changed (else same version), eval
//	StopJob          new version with Stop set, or purge; eval
//	UpsertNode       register / re-register (keeps drain, eligibility)
//	NodeStatus       ready | disconnected | down | initializing
//	NodeEligibility  eligibility and drain
//	UpsertEvals      insert or update evaluations
//	ApplyPlan        placements, stops, the eval's new status, follow-up evals
//	ClientUpdate     a node's report on its allocs (others' allocs ignored),
//	                 each with its full set of service instances
//	AllocEvents      central's decisions on allocs (Lost, Reconnected, ...)
//	DeleteService    an operator removes one service instance
//	GC               deletes what the leader's garbage collection chose
//	                 (central/gc), each object checked again: unchanged
//	                 since the leader looked, terminal; a job goes with
//	                 its allocs, evals and versions
//
// Service instances belong to their allocation: a ClientUpdate replaces
// the alloc's set (identity fields taken from the alloc and node, not the
// agent); a client status of complete, failed or lost, however it is set
// (client update, plan stop, alloc events), removes them all. "unknown"
// keeps them: a disconnected site's instances stay listed. ApplyResult
// names every service whose published instances changed.
//
// The FSM is deterministic: it reads no clock and makes no IDs; times and
// IDs come inside commands, set by the leader. It creates no evaluations of
// its own either: the leader puts them in the same command.
//
// # Threading
//
// Raft calls FSM.Apply and FSM.Snapshot from one goroutine, Persist
// concurrently with Apply, Restore alone. Reads (Store methods, Snapshot)
// are safe from any goroutine and never block the writer: each is a memdb
// read transaction over an immutable tree. Wait blocks on a per-table
// channel that the writer closes after a change.
//
//	leader:   cmd := &Command{Ops: ...}; b, _ := EncodeCommand(cmd); raft.Apply(b, t)
//	every server, per entry:
//	    FSM.Apply(log) -> DecodeCommand -> Store.ApplyDirect(index, cmd)
//	        one write txn: apply each op; recompute touched jobs' status;
//	        bump the index of each changed table; commit; wake waiters
//	    -> *ApplyResult{NodesChanged, ServicesChanged, EvalsCreated, ...} to the leader's future
package state
