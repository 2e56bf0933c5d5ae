package gc

import (
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Source is the state the collection reads: a *state.Snapshot.
type Source interface {
	Jobs(ns string) []*jobspec.Job
	JobVersions(ns, id string) []*jobspec.Job
	Allocs() []*structs.Allocation
	Evals() []*structs.Evaluation
	Nodes() []*structs.Node
	JoinTokens() []*state.JoinToken
	ACLTokens() []*acl.Token
}

var _ Source = (*state.Snapshot)(nil)

// Thresholds say how long an object stays after it became collectable.
// Zero values are used as they are (collect at once): the server config
// sets the defaults.
type Thresholds struct {
	Eval      time.Duration // eval_gc_threshold: evaluations and allocations
	BatchEval time.Duration // batch_eval_gc_threshold: those of batch jobs
	Job       time.Duration // job_gc_threshold
	Node      time.Duration // node_gc_threshold
	JoinToken time.Duration // join_token_gc_threshold
	ACLToken  time.Duration // acl_token_gc_threshold
	// KeepVersions is job_tracked_versions (0: the default, 6).
	KeepVersions int
}

type jobKey struct{ ns, id string }

// Compute returns the op that deletes what is collectable at now. force
// ignores the thresholds (never the rules). The op is empty (Empty) when
// nothing is.
func Compute(src Source, now time.Time, th Thresholds, force bool) *state.GC {
	op := &state.GC{KeepVersions: th.KeepVersions, Now: now.UnixNano()}
	// older reports whether t (unix ns) is at least d before now.
	older := func(t int64, d time.Duration) bool {
		return force || t <= now.Add(-d).UnixNano()
	}
	jobs := map[jobKey]*jobspec.Job{}
	for _, j := range src.Jobs("") {
		jobs[jobKey{j.Namespace, j.ID}] = j
	}
	allocs := map[jobKey][]*structs.Allocation{}
	for _, a := range src.Allocs() {
		k := jobKey{a.Namespace, a.JobID}
		allocs[k] = append(allocs[k], a)
	}
	live := map[string]bool{} // nodes with a live allocation
	for _, a := range src.Allocs() {
		if !a.Terminal() {
			live[a.NodeID] = true
		}
	}
	evals := map[jobKey][]*structs.Evaluation{}
	for _, e := range src.Evals() {
		if e.JobID != "" {
			k := jobKey{e.Namespace, e.JobID}
			evals[k] = append(evals[k], e)
		}
	}

	// Jobs first: a collected job takes its allocations and evaluations.
	gone := map[jobKey]bool{}
	for _, j := range src.Jobs("") {
		k := jobKey{j.Namespace, j.ID}
		if jobCollectable(j, allocs[k], evals[k], th.Job, older) {
			gone[k] = true
			op.Jobs = append(op.Jobs, state.GCRef{Namespace: j.Namespace, ID: j.ID, ModifyIndex: j.ModifyIndex})
		} else if th.KeepVersions > 0 && len(src.JobVersions(j.Namespace, j.ID)) > th.KeepVersions {
			op.PruneVersions = append(op.PruneVersions, state.GCRef{Namespace: j.Namespace, ID: j.ID})
		}
	}
	// batchHeld: a batch or sysbatch job whose finished allocations must
	// stay, for the scheduler not to run them again.
	batchHeld := func(k jobKey) bool {
		j := jobs[k]
		if j == nil || !jobspec.RunsToCompletion(j.Type) {
			return false
		}
		dead := j.Status == jobspec.JobStatusDead
		return !(dead && (j.Stop || force))
	}
	threshold := func(k jobKey, typ string) time.Duration {
		if jobspec.RunsToCompletion(typ) || jobs[k] != nil && jobspec.RunsToCompletion(jobs[k].Type) {
			return th.BatchEval
		}
		return th.Eval
	}
	for _, a := range src.Allocs() {
		k := jobKey{a.Namespace, a.JobID}
		if gone[k] || !a.Terminal() || batchHeld(k) || rescheduleHeld(a, jobs[k], op.Now) { // reschedule.go
			continue
		}
		typ := ""
		if a.Job != nil {
			typ = a.Job.Type
		}
		if older(a.ModifyTime, threshold(k, typ)) {
			op.Allocs = append(op.Allocs, state.GCRef{ID: a.ID, ModifyIndex: a.ModifyIndex})
		}
	}
	for _, e := range src.Evals() {
		k := jobKey{e.Namespace, e.JobID}
		if e.JobID != "" && (gone[k] || batchHeld(k)) || !state.EvalTerminal(e.Status) {
			continue
		}
		if older(e.ModifyTime, threshold(k, e.Type)) {
			op.Evals = append(op.Evals, state.GCRef{ID: e.ID, ModifyIndex: e.ModifyIndex})
		}
	}
	for _, n := range src.Nodes() {
		if n.Status == structs.NodeDown && !live[n.ID] && older(n.StatusUpdatedAt, th.Node) {
			op.Nodes = append(op.Nodes, state.GCRef{ID: n.ID, ModifyIndex: n.ModifyIndex})
		}
	}
	for _, jt := range src.JoinTokens() {
		if jt.Expires != 0 && jt.Expired(now.UnixMilli()) && older(jt.Expires*int64(time.Millisecond), th.JoinToken) {
			op.JoinTokens = append(op.JoinTokens, jt.Hash)
		}
	}
	for _, tok := range src.ACLTokens() {
		if tok.Expired(now) && older(tok.ExpireTime, th.ACLToken) {
			op.ACLTokens = append(op.ACLTokens, tok.AccessorID)
		}
	}
	op.Deployments = deployments(src, gone, th.Eval, older)
	return op
}

// deployments returns the finished deployments older than the eval
// threshold, except each job's newest (what `job status` shows). Those of
// a collected job go with it.
func deployments(src Source, gone map[jobKey]bool, d time.Duration, older func(int64, time.Duration) bool) []state.GCRef {
	dr, ok := src.(interface {
		Deployments(ns string) []*structs.Deployment
	})
	if !ok {
		return nil
	}
	var out []state.GCRef
	newest := map[jobKey]bool{}
	for _, dep := range dr.Deployments("") { // newest first
		k := jobKey{dep.Namespace, dep.JobID}
		first := !newest[k]
		newest[k] = true
		if first || gone[k] || dep.Active() || !older(dep.ModifyTime, d) {
			continue
		}
		out = append(out, state.GCRef{ID: dep.ID, ModifyIndex: dep.ModifyIndex})
	}
	return out
}

// jobCollectable: a batch or sysbatch job, or a stopped one, dead with nothing live,
// whose last activity (submission, an allocation's or evaluation's last
// change) is older than the threshold.
func jobCollectable(j *jobspec.Job, allocs []*structs.Allocation, evals []*structs.Evaluation, d time.Duration, older func(int64, time.Duration) bool) bool {
	if j.Status != jobspec.JobStatusDead || !j.Stop && !jobspec.RunsToCompletion(j.Type) {
		return false
	}
	last := j.SubmitTime
	for _, a := range allocs {
		if !a.Terminal() {
			return false
		}
		last = max(last, a.ModifyTime)
	}
	for _, e := range evals {
		if !state.EvalTerminal(e.Status) {
			return false
		}
		last = max(last, e.ModifyTime)
	}
	return older(last, d)
}

// Empty reports whether op deletes nothing.
func Empty(op *state.GC) bool {
	return len(op.Jobs)+len(op.Evals)+len(op.Allocs)+len(op.Nodes)+len(op.JoinTokens)+len(op.ACLTokens)+len(op.PruneVersions)+len(op.Deployments) == 0
}

// Split cuts op into ops of at most n references each, so no Raft entry
// grows with the backlog. Jobs come first: their allocations and
// evaluations go with them.
func Split(op *state.GC, n int) []*state.GC {
	if n <= 0 {
		panic("BUG: gc.Split: n must be positive")
	}
	var out []*state.GC
	cur := &state.GC{KeepVersions: op.KeepVersions, Now: op.Now}
	size := 0
	add := func(f func(c *state.GC)) {
		if size == n {
			out = append(out, cur)
			cur, size = &state.GC{KeepVersions: op.KeepVersions, Now: op.Now}, 0
		}
		f(cur)
		size++
	}
	for _, r := range op.Jobs {
		add(func(c *state.GC) { c.Jobs = append(c.Jobs, r) })
	}
	for _, r := range op.Allocs {
		add(func(c *state.GC) { c.Allocs = append(c.Allocs, r) })
	}
	for _, r := range op.Evals {
		add(func(c *state.GC) { c.Evals = append(c.Evals, r) })
	}
	for _, r := range op.Nodes {
		add(func(c *state.GC) { c.Nodes = append(c.Nodes, r) })
	}
	for _, h := range op.JoinTokens {
		add(func(c *state.GC) { c.JoinTokens = append(c.JoinTokens, h) })
	}
	for _, id := range op.ACLTokens {
		add(func(c *state.GC) { c.ACLTokens = append(c.ACLTokens, id) })
	}
	for _, r := range op.PruneVersions {
		add(func(c *state.GC) { c.PruneVersions = append(c.PruneVersions, r) })
	}
	for _, r := range op.Deployments {
		add(func(c *state.GC) { c.Deployments = append(c.Deployments, r) })
	}
	if size > 0 {
		out = append(out, cur)
	}
	return out
}
