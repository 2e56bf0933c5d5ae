package state

import (
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// GC deletes what the leader's garbage collection found collectable
// (central/gc decides; docs/operations.md). The leader decides with its
// clock and thresholds; this op only deletes, and checks every deletion
// again against the state the entry applies to: an object whose modify
// index changed since the leader looked, or that is no longer terminal,
// is kept (and counted in ApplyResult.Ignored).
//
// A job is deleted with all its allocations, evaluations and versions,
// and only if every allocation is terminal and every evaluation finished.
// A node is deleted only while down with no live allocation; a join token
// or an ACL token only once expired at Now.
type GC struct {
	Jobs       []GCRef  `json:"jobs,omitempty"`
	Evals      []GCRef  `json:"evals,omitempty"`
	Allocs     []GCRef  `json:"allocs,omitempty"`
	Nodes      []GCRef  `json:"nodes,omitempty"`
	JoinTokens []string `json:"join_tokens,omitempty"` // hashes
	ACLTokens  []string `json:"acl_tokens,omitempty"`  // accessor IDs; deleted if expired at Now
	// PruneVersions lists jobs to cut to their newest KeepVersions
	// versions (after job_tracked_versions was lowered).
	PruneVersions []GCRef `json:"prune_versions,omitempty"`
	// Deployments lists finished deployments to delete (an active one is
	// kept). A collected job takes its deployments with it.
	Deployments []GCRef `json:"deployments,omitempty"`
	// KeepVersions is the number of job versions kept (0: the default, 6).
	KeepVersions int   `json:"keep_versions,omitempty"`
	Now          int64 `json:"now"` // unix ns, the leader's clock
}

// GCRef names one object as the leader saw it.
type GCRef struct {
	Namespace   string `json:"ns,omitempty"` // jobs only
	ID          string `json:"id"`
	ModifyIndex uint64 `json:"mi"`
}

// GCCounts counts what one GC op deleted.
type GCCounts struct {
	Jobs        int `json:"jobs"`
	JobVersions int `json:"job_versions"`
	Evals       int `json:"evals"`
	Allocs      int `json:"allocs"`
	Nodes       int `json:"nodes"`
	JoinTokens  int `json:"join_tokens"`
	ACLTokens   int `json:"acl_tokens"`
	Deployments int `json:"deployments"`
}

// Add returns c + o.
func (c GCCounts) Add(o GCCounts) GCCounts {
	return GCCounts{Jobs: c.Jobs + o.Jobs, JobVersions: c.JobVersions + o.JobVersions, Evals: c.Evals + o.Evals,
		Allocs: c.Allocs + o.Allocs, Nodes: c.Nodes + o.Nodes, JoinTokens: c.JoinTokens + o.JoinTokens, ACLTokens: c.ACLTokens + o.ACLTokens,
		Deployments: c.Deployments + o.Deployments}
}

// Total is the number of objects deleted.
func (c GCCounts) Total() int {
	return c.Jobs + c.JobVersions + c.Evals + c.Allocs + c.Nodes + c.JoinTokens + c.ACLTokens + c.Deployments
}

// EvalTerminal reports whether an evaluation's status is final.
func EvalTerminal(status string) bool {
	switch status {
	case structs.EvalComplete, structs.EvalFailed, "canceled":
		return true
	}
	return false
}

func keepOrDefault(n int) int {
	if n <= 0 {
		return keepJobVersions
	}
	return n
}

func (a *applier) gc(op *GC) error {
	keep := keepOrDefault(op.KeepVersions)
	touched := map[jobKey]bool{} // jobs whose allocs were deleted: prune their versions
	for _, r := range op.Jobs {
		a.gcJob(r)
	}
	for _, r := range op.Allocs {
		al := firstTxn[*structs.Allocation](a.txn, TableAllocs, r.ID)
		if al == nil || al.ModifyIndex != r.ModifyIndex || !al.Terminal() {
			a.res.Ignored++
			continue
		}
		a.deleteAlloc(al)
		touched[jobKey{al.Namespace, al.JobID}] = true
	}
	for _, r := range op.Evals {
		e := firstTxn[*structs.Evaluation](a.txn, TableEvals, r.ID)
		if e == nil || e.ModifyIndex != r.ModifyIndex || !EvalTerminal(e.Status) {
			a.res.Ignored++
			continue
		}
		a.delete(TableEvals, e)
		a.res.GC.Evals++
	}
	for _, r := range op.Nodes {
		n := firstTxn[*structs.Node](a.txn, TableNodes, r.ID)
		if n == nil || n.ModifyIndex != r.ModifyIndex || n.Status != structs.NodeDown || a.nodeHasLiveAllocs(n.ID) {
			a.res.Ignored++
			continue
		}
		a.delete(TableNodes, n)
		a.res.GC.Nodes++
	}
	for _, h := range op.JoinTokens {
		e := firstTxn[*SecurityEntry](a.txn, TableSecurity, joinKeyPrefix+h)
		if e == nil || e.Join == nil || !e.Join.Expired(op.Now/1e6) {
			a.res.Ignored++
			continue
		}
		a.delete(TableSecurity, e)
		a.res.GC.JoinTokens++
	}
	for _, id := range op.ACLTokens {
		tok := firstTxn[*acl.Token](a.txn, TableACLTokens, id)
		if tok == nil || !tok.Expired(time.Unix(0, op.Now)) {
			a.res.Ignored++
			continue
		}
		a.delete(TableACLTokens, tok)
		a.res.GC.ACLTokens++
	}
	for _, r := range op.Deployments {
		d := firstTxn[*structs.Deployment](a.txn, TableDeployments, r.ID)
		if d == nil || d.ModifyIndex != r.ModifyIndex || d.Active() {
			a.res.Ignored++
			continue
		}
		a.delete(TableDeployments, d)
		a.res.GC.Deployments++
	}
	for _, r := range op.PruneVersions {
		touched[jobKey{r.Namespace, r.ID}] = true
	}
	for k := range touched {
		n := keep
		if firstTxn[*jobspec.Job](a.txn, TableJobs, k.ns, k.id) == nil {
			n = 0 // purged: versions stayed only for the allocs
		}
		a.res.GC.JobVersions += a.pruneVersions(k.ns, k.id, n)
	}
	return nil
}

// gcJob deletes a job, its allocations, evaluations and versions, if it is
// unchanged and nothing of it is live.
func (a *applier) gcJob(r GCRef) {
	j := firstTxn[*jobspec.Job](a.txn, TableJobs, r.Namespace, r.ID)
	if j == nil || j.ModifyIndex != r.ModifyIndex {
		a.res.Ignored++
		return
	}
	var allocs []*structs.Allocation
	it, err := a.txn.Get(TableAllocs, "job", j.Namespace, j.ID)
	if err != nil {
		panic("BUG: allocs scan: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		al := raw.(*structs.Allocation)
		if !al.Terminal() {
			a.res.Ignored++
			return
		}
		allocs = append(allocs, al)
	}
	var evals []*structs.Evaluation
	eit, err := a.txn.Get(TableEvals, "job", j.Namespace, j.ID)
	if err != nil {
		panic("BUG: evals scan: " + err.Error())
	}
	for raw := eit.Next(); raw != nil; raw = eit.Next() {
		e := raw.(*structs.Evaluation)
		if !EvalTerminal(e.Status) {
			a.res.Ignored++
			return
		}
		evals = append(evals, e)
	}
	for _, al := range allocs {
		a.deleteAlloc(al)
	}
	for _, e := range evals {
		a.delete(TableEvals, e)
		a.res.GC.Evals++
	}
	dit, err := a.txn.Get(TableDeployments, "job", j.Namespace, j.ID)
	if err != nil {
		panic("BUG: deployments scan: " + err.Error())
	}
	var deps []*structs.Deployment
	for raw := dit.Next(); raw != nil; raw = dit.Next() {
		deps = append(deps, raw.(*structs.Deployment))
	}
	for _, d := range deps {
		a.delete(TableDeployments, d)
		a.res.GC.Deployments++
	}
	a.delete(TableJobs, j)
	a.deletePeriodicLaunch(j.Namespace, j.ID) // periodic.go
	delete(a.jobs, jobKey{j.Namespace, j.ID})
	a.res.GC.Jobs++
	a.res.GC.JobVersions += a.pruneVersions(j.Namespace, j.ID, 0)
}

// deleteAlloc removes an allocation and its service instances; its node's
// desired state is published again without it.
func (a *applier) deleteAlloc(al *structs.Allocation) {
	a.dropAllocServices(al.ID)
	a.delete(TableAllocs, al)
	a.nodes[al.NodeID] = true
	a.res.GC.Allocs++
}

func (a *applier) nodeHasLiveAllocs(nodeID string) bool {
	it, err := a.txn.Get(TableAllocs, "node", nodeID)
	if err != nil {
		panic("BUG: allocs by node index: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !raw.(*structs.Allocation).Terminal() {
			return true
		}
	}
	return false
}
