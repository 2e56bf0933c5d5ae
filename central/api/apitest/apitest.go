// Package apitest provides an in-memory api.Backend for tests of the HTTP
// API and of the CLI that talks to it. It is a stand-in for central's Raft
// server and state store: writes apply at once, each bumping one global
// index, and blocking reads wake on every change.
//
//	b := apitest.New()
//	srv := httptest.NewServer(api.New(b, nil))
//	b.PutNode(&structs.Node{ID: "...", Status: "ready"})
//	b.PutService(&structs.ServiceRegistration{ID: "...", ServiceName: "api", Healthy: true})
//	b.OnSubmit = func(job *jobspec.Job, eval *structs.Evaluation) { ... }
package apitest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Backend is an in-memory api.Backend and api.Reader.
type Backend struct {
	// Set these before use; they are read without the lock.
	LeaderAddr string
	MemberList []api.Member
	SelfInfo   map[string]any
	// WriteErr, when set, fails SubmitJob and StopJob (e.g. "no leader").
	WriteErr error
	// OnSubmit and OnStop run after the write, outside the lock, so they
	// may call the Put methods.
	OnSubmit func(job *jobspec.Job, eval *structs.Evaluation)
	OnStop   func(job *jobspec.Job, eval *structs.Evaluation)
	// ExtraMetrics are returned by Metrics; Logs holds task logs by
	// LogsKey (see ops.go).
	ExtraMetrics []api.Metric
	Logs         map[string]string
	// ACL turns ACL checks on (acl.go); ACL state lives in acls.
	ACL  bool
	acls *aclState

	mu      sync.Mutex // guards the fields below
	index   uint64
	tables  map[string]uint64
	changed chan struct{} // closed and replaced on every write
	jobs    map[string][]*jobspec.Job
	nodes   map[string]*structs.Node
	allocs  map[string]*structs.Allocation
	evals   map[string]*structs.Evaluation
	svcs    map[string]*structs.ServiceRegistration // by ID
}

var _ api.Backend = (*Backend)(nil)
var _ api.Reader = (*Backend)(nil)

// New returns an empty backend whose leader is 127.0.0.1:7600.
func New() *Backend {
	return &Backend{
		LeaderAddr: "127.0.0.1:7600",
		MemberList: []api.Member{{Name: "server-1", Address: "127.0.0.1:7600", Status: "alive", Leader: true}},
		SelfInfo:   map[string]any{"name": "server-1", "version": "test"},
		tables:     map[string]uint64{},
		changed:    make(chan struct{}),
		jobs:       map[string][]*jobspec.Job{},
		nodes:      map[string]*structs.Node{},
		allocs:     map[string]*structs.Allocation{},
		evals:      map[string]*structs.Evaluation{},
		svcs:       map[string]*structs.ServiceRegistration{},
		acls:       newACLState(),
	}
}

// NewID returns a random UUID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// bump must be called with mu held; it advances the index of tables.
func (b *Backend) bump(tables ...string) uint64 {
	b.index++
	for _, t := range tables {
		b.tables[t] = b.index
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return b.index
}

func key(ns, id string) string { return ns + "\x00" + id }

// State implements api.Backend.
func (b *Backend) State() api.Reader { return b }

// Leader implements api.Backend.
func (b *Backend) Leader() string { return b.LeaderAddr }

// Members implements api.Backend.
func (b *Backend) Members() []api.Member { return b.MemberList }

// Self implements api.Backend.
func (b *Backend) Self() map[string]any { return b.SelfInfo }

// SubmitJob stores a new version of job and a pending evaluation for it.
func (b *Backend) SubmitJob(ctx context.Context, job *jobspec.Job) (string, uint64, error) {
	if b.WriteErr != nil {
		return "", 0, b.WriteErr
	}
	b.mu.Lock()
	cp := *job
	k := key(cp.Namespace, cp.ID)
	if vs := b.jobs[k]; len(vs) > 0 {
		cp.Version = vs[len(vs)-1].Version + 1
		cp.CreateIndex = vs[0].CreateIndex
	}
	idx := b.bump("jobs", "evals")
	if cp.CreateIndex == 0 {
		cp.CreateIndex = idx
	}
	cp.ModifyIndex, cp.JobModifyIndex = idx, idx
	cp.Status = ""
	b.jobs[k] = append(b.jobs[k], &cp)
	ev := &structs.Evaluation{ID: NewID(), Namespace: cp.Namespace, Priority: cp.Priority, Type: cp.Type,
		TriggeredBy: structs.TriggerJobRegister, JobID: cp.ID, JobModifyIndex: idx, Status: structs.EvalPending,
		CreateIndex: idx, ModifyIndex: idx}
	b.evals[ev.ID] = ev
	b.mu.Unlock()
	if b.OnSubmit != nil {
		b.OnSubmit(&cp, ev)
	}
	return ev.ID, idx, nil
}

// StopJob marks the job stopped (or deletes it with purge) and stores a
// pending deregister evaluation.
func (b *Backend) StopJob(ctx context.Context, ns, id string, purge bool) (string, uint64, error) {
	if b.WriteErr != nil {
		return "", 0, b.WriteErr
	}
	b.mu.Lock()
	k := key(ns, id)
	vs := b.jobs[k]
	if len(vs) == 0 {
		b.mu.Unlock()
		return "", 0, fmt.Errorf("job %q not found", id)
	}
	idx := b.bump("jobs", "evals")
	cp := *vs[len(vs)-1]
	cp.Stop, cp.Version, cp.ModifyIndex, cp.JobModifyIndex = true, cp.Version+1, idx, idx
	if purge {
		delete(b.jobs, k)
	} else {
		b.jobs[k] = append(vs, &cp)
	}
	ev := &structs.Evaluation{ID: NewID(), Namespace: ns, Priority: cp.Priority, Type: cp.Type,
		TriggeredBy: structs.TriggerJobDeregister, JobID: id, JobModifyIndex: idx, Status: structs.EvalPending,
		CreateIndex: idx, ModifyIndex: idx}
	b.evals[ev.ID] = ev
	b.mu.Unlock()
	if b.OnStop != nil {
		b.OnStop(&cp, ev)
	}
	return ev.ID, idx, nil
}

// PutNode inserts or replaces a node.
func (b *Backend) PutNode(n *structs.Node) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.bump("nodes")
	cp := *n
	if old := b.nodes[n.ID]; old != nil {
		cp.CreateIndex = old.CreateIndex
	} else {
		cp.CreateIndex = idx
	}
	cp.ModifyIndex = idx
	b.nodes[n.ID] = &cp
}

// PutAlloc inserts or replaces allocations, in one index.
func (b *Backend) PutAlloc(allocs ...*structs.Allocation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.bump("allocs")
	for _, a := range allocs {
		cp := *a
		if old := b.allocs[a.ID]; old != nil {
			cp.CreateIndex = old.CreateIndex
		} else {
			cp.CreateIndex = idx
		}
		cp.ModifyIndex = idx
		b.allocs[a.ID] = &cp
	}
}

// PutEval inserts or replaces an evaluation.
func (b *Backend) PutEval(e *structs.Evaluation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.bump("evals")
	cp := *e
	if cp.CreateIndex == 0 {
		cp.CreateIndex = idx
	}
	cp.ModifyIndex = idx
	b.evals[e.ID] = &cp
}

// UpdateAlloc copies allocation id, applies f to the copy and stores it.
func (b *Backend) UpdateAlloc(id string, f func(a *structs.Allocation)) {
	b.mu.Lock()
	old := b.allocs[id]
	b.mu.Unlock()
	if old == nil {
		panic("BUG: apitest: UpdateAlloc of unknown allocation " + id)
	}
	cp := *old
	f(&cp)
	b.PutAlloc(&cp)
}

// UpdateEval copies evaluation id, applies f to the copy and stores it.
func (b *Backend) UpdateEval(id string, f func(e *structs.Evaluation)) {
	b.mu.Lock()
	old := b.evals[id]
	b.mu.Unlock()
	if old == nil {
		panic("BUG: apitest: UpdateEval of unknown evaluation " + id)
	}
	cp := *old
	f(&cp)
	b.PutEval(&cp)
}

// JobByID implements api.Reader.
func (b *Backend) JobByID(ns, id string) *jobspec.Job {
	b.mu.Lock()
	defer b.mu.Unlock()
	vs := b.jobs[key(ns, id)]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// JobVersions implements api.Reader.
func (b *Backend) JobVersions(ns, id string) []*jobspec.Job {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*jobspec.Job(nil), b.jobs[key(ns, id)]...)
}

// Jobs implements api.Reader.
func (b *Backend) Jobs(ns string) []*jobspec.Job {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*jobspec.Job
	for _, vs := range b.jobs {
		j := vs[len(vs)-1]
		if ns == "" || j.Namespace == ns {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out
}

// Nodes implements api.Reader.
func (b *Backend) Nodes() []*structs.Node {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*structs.Node
	for _, n := range b.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out
}

// NodeByID implements api.Reader.
func (b *Backend) NodeByID(id string) *structs.Node {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nodes[id]
}

// AllocByID implements api.Reader.
func (b *Backend) AllocByID(id string) *structs.Allocation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allocs[id]
}

func (b *Backend) allocsWhere(f func(a *structs.Allocation) bool) []*structs.Allocation {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*structs.Allocation
	for _, a := range b.allocs {
		if f(a) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out
}

// AllocsByIDPrefix implements api.Reader.
func (b *Backend) AllocsByIDPrefix(prefix string) []*structs.Allocation {
	return b.allocsWhere(func(a *structs.Allocation) bool { return strings.HasPrefix(a.ID, prefix) })
}

// AllocsByJob implements api.Reader.
func (b *Backend) AllocsByJob(ns, jobID string) []*structs.Allocation {
	return b.allocsWhere(func(a *structs.Allocation) bool { return a.Namespace == ns && a.JobID == jobID })
}

// AllocsByNode implements api.Reader.
func (b *Backend) AllocsByNode(nodeID string) []*structs.Allocation {
	return b.allocsWhere(func(a *structs.Allocation) bool { return a.NodeID == nodeID })
}

// Allocs implements api.Reader.
func (b *Backend) Allocs() []*structs.Allocation {
	return b.allocsWhere(func(*structs.Allocation) bool { return true })
}

// EvalByID implements api.Reader.
func (b *Backend) EvalByID(id string) *structs.Evaluation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.evals[id]
}

// EvalsByJob implements api.Reader.
func (b *Backend) EvalsByJob(ns, jobID string) []*structs.Evaluation {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*structs.Evaluation
	for _, e := range b.evals {
		if e.Namespace == ns && e.JobID == jobID {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].CreateIndex < out[k].CreateIndex })
	return out
}

// Evals implements api.Reader.
func (b *Backend) Evals() []*structs.Evaluation {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*structs.Evaluation, 0, len(b.evals))
	for _, e := range b.evals {
		out = append(out, e)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out
}

// Index implements api.Reader.
func (b *Backend) Index(table string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tables[table]
}

// Wait implements api.Reader.
func (b *Backend) Wait(ctx context.Context, table string, minIndex uint64) uint64 {
	for {
		b.mu.Lock()
		idx, ch := b.tables[table], b.changed
		b.mu.Unlock()
		if idx > minIndex {
			return idx
		}
		select {
		case <-ctx.Done():
			return idx
		case <-ch:
		}
	}
}

// PutService inserts or replaces service instances (by ID), in one index.
// An empty Namespace means "default".
func (b *Backend) PutService(regs ...*structs.ServiceRegistration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := b.bump("services")
	for _, r := range regs {
		cp := *r
		if cp.Namespace == "" {
			cp.Namespace = "default"
		}
		if old := b.svcs[r.ID]; old != nil {
			cp.CreateIndex = old.CreateIndex
		} else {
			cp.CreateIndex = idx
		}
		cp.ModifyIndex = idx
		b.svcs[r.ID] = &cp
	}
}

// DeleteService implements api.Backend.
func (b *Backend) DeleteService(ctx context.Context, ns, name, id string) error {
	if b.WriteErr != nil {
		return b.WriteErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.svcs[id]
	if r == nil || r.Namespace != ns || r.ServiceName != name {
		return fmt.Errorf("service %q has no instance %q in namespace %q", name, id, ns)
	}
	delete(b.svcs, id)
	b.bump("services")
	return nil
}

func (b *Backend) servicesWhere(f func(r *structs.ServiceRegistration) bool) []*structs.ServiceRegistration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*structs.ServiceRegistration
	for _, r := range b.svcs {
		if f(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].ServiceName != out[k].ServiceName {
			return out[i].ServiceName < out[k].ServiceName
		}
		if out[i].Namespace != out[k].Namespace {
			return out[i].Namespace < out[k].Namespace
		}
		return out[i].ID < out[k].ID
	})
	return out
}

// Services implements api.Reader.
func (b *Backend) Services(ns string) []*structs.ServiceRegistration {
	return b.servicesWhere(func(r *structs.ServiceRegistration) bool { return ns == "" || r.Namespace == ns })
}

// ServiceByName implements api.Reader.
func (b *Backend) ServiceByName(ns, name string) []*structs.ServiceRegistration {
	return b.servicesWhere(func(r *structs.ServiceRegistration) bool {
		return r.ServiceName == name && (ns == "" || r.Namespace == ns)
	})
}

// RevertJob stores a copy of a kept version of a job as its newest
// version, and a pending evaluation, as SubmitJob does.
func (b *Backend) RevertJob(ctx context.Context, ns, id string, version uint64, enforcePrior *uint64) (string, uint64, error) {
	b.mu.Lock()
	vs := b.jobs[key(ns, id)]
	var target *jobspec.Job
	for _, v := range vs {
		if v.Version == version {
			target = v
		}
	}
	b.mu.Unlock()
	switch {
	case len(vs) == 0:
		return "", 0, fmt.Errorf("job %q not found: %w", id, api.ErrInvalid)
	case enforcePrior != nil && vs[len(vs)-1].Version != *enforcePrior:
		return "", 0, fmt.Errorf("job %q is not at version %d: %w", id, *enforcePrior, api.ErrConflict)
	case target == nil:
		return "", 0, fmt.Errorf("job %q has no version %d: %w", id, version, api.ErrInvalid)
	}
	cp := *target
	cp.Stable = false
	return b.SubmitJob(ctx, &cp)
}
