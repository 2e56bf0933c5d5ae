package state

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

const (
	// keepJobVersions is how many of a job's newest versions are kept;
	// older ones are kept only while an allocation refers to them.
	keepJobVersions = 6
	// maxAllocEvents bounds Allocation.Events; the oldest are dropped.
	maxAllocEvents = 16
	// DefaultNamespace is used for jobs, allocs and evals with none set.
	DefaultNamespace = "default"
)

// errApplyPanic marks a command whose application panicked (a bug): the
// whole command was discarded so every server stays identical.
var errApplyPanic = errors.New("state: BUG: applying command panicked")

// ApplyResult is what applying one command did. FSM.Apply returns it.
type ApplyResult struct {
	Index uint64
	// Err joins the errors of rejected ops (each names its op); the other
	// ops of the command were applied.
	Err error
	// NodesChanged lists, sorted, the nodes whose desired allocation set
	// changed (an alloc placed, stopped, moved, or its desired status or
	// job version changed). Client-status-only changes do not count.
	NodesChanged []string
	// EvalsCreated holds the pending evaluations written by this command,
	// for the leader to enqueue.
	EvalsCreated []*structs.Evaluation
	// JobIndex is, for UpsertJob and StopJob, the job's JobModifyIndex.
	JobIndex uint64
	// ServicesChanged lists, sorted, the service names whose instance set
	// or an instance's published fields (address, port, tags, health)
	// changed: the leader republishes their retained topics.
	ServicesChanged []string
	// Ignored counts updates skipped as stale: client updates for allocs
	// that do not exist or belong to another node, stops and events for
	// missing allocs, GC deletions of objects that changed meanwhile.
	Ignored int
	// GC counts what GC ops deleted (gc.go).
	GC GCCounts
}

type jobKey struct{ ns, id string }

// applier applies one command inside one write transaction.
type applier struct {
	txn     *memdb.Txn
	index   uint64
	changed map[string]bool // tables written
	nodes   map[string]bool // nodes whose desired set changed
	jobs    map[jobKey]bool // jobs whose status may have changed
	svcs    map[string]bool // service names whose published set changed
	// deployments whose allocations were written: recounted by finish.
	deployments map[string]bool
	res         *ApplyResult
}

// ApplyDirect applies c at raft index index, in one transaction. The FSM
// calls it for every log entry; tests and tools may call it directly. The
// store takes ownership of the values in c: the caller must not use or
// change them afterwards. Ops that fail validation are skipped and
// reported in ApplyResult.Err; they never panic and never half-apply.
func (s *Store) ApplyDirect(index uint64, c *Command) (res *ApplyResult) {
	res = &ApplyResult{Index: index}
	if c == nil {
		return res
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	txn := s.db.Load().Txn(true)
	a := &applier{
		txn:     txn,
		index:   index,
		changed: make(map[string]bool),
		nodes:   make(map[string]bool),
		jobs:    make(map[jobKey]bool),
		svcs:    make(map[string]bool),
		res:     res,
	}
	defer func() {
		// A panic here is a bug, but the entry is in the log of every
		// server: crashing would crash them all, forever. Discard it.
		if r := recover(); r != nil {
			txn.Abort()
			*res = ApplyResult{Index: index, Err: fmt.Errorf("%w: %v", errApplyPanic, r)}
		}
	}()

	var errs []error
	for i := range c.Ops {
		if err := a.apply(&c.Ops[i]); err != nil {
			if len(c.Ops) > 1 { // a user reads the error: name the op only when there are several
				err = fmt.Errorf("op %d: %w", i, err)
			}
			errs = append(errs, err)
		}
	}
	a.finish()
	txn.Commit()
	s.notify(a.changed)

	res.Err = errors.Join(errs...)
	for n := range a.nodes {
		res.NodesChanged = append(res.NodesChanged, n)
	}
	sort.Strings(res.NodesChanged)
	for n := range a.svcs {
		res.ServicesChanged = append(res.ServicesChanged, n)
	}
	sort.Strings(res.ServicesChanged)
	return res
}

func (a *applier) apply(op *Op) error {
	set := aclOps(op) + securityOps(op) + periodicOps(op) + otaOps(op)
	for _, isSet := range []bool{op.UpsertJob != nil, op.StopJob != nil, op.UpsertNode != nil,
		op.NodeStatus != nil, op.NodeEligibility != nil, op.UpsertEvals != nil,
		op.ApplyPlan != nil, op.ClientUpdate != nil, op.AllocEvents != nil, op.DeleteService != nil, op.GC != nil,
		op.UpdateDeployment != nil, op.AllocAction != nil, op.StopAlloc != nil} {
		if isSet {
			set++
		}
	}
	switch {
	case set == 0:
		return fmt.Errorf("%w: op sets no field (written by a newer server?)", ErrBadCommand)
	case set > 1:
		return fmt.Errorf("%w: op sets %d fields, want exactly one", ErrBadCommand, set)
	}
	if ok, err := a.applyACL(op); ok {
		return err
	}
	if ok, err := a.applySecurity(op); ok {
		return err
	}
	if ok, err := a.applyPeriodic(op); ok {
		return err
	}
	if ok, err := a.applyOTA(op); ok { // ota.go
		return err
	}
	switch {
	case op.UpsertJob != nil:
		return a.upsertJob(op.UpsertJob)
	case op.StopJob != nil:
		return a.stopJob(op.StopJob)
	case op.UpsertNode != nil:
		return a.upsertNode(op.UpsertNode)
	case op.NodeStatus != nil:
		return a.nodeStatus(op.NodeStatus)
	case op.NodeEligibility != nil:
		return a.nodeEligibility(op.NodeEligibility)
	case op.UpsertEvals != nil:
		return a.upsertEvals(op.UpsertEvals)
	case op.ApplyPlan != nil:
		return a.applyPlan(op.ApplyPlan)
	case op.ClientUpdate != nil:
		return a.clientUpdate(op.ClientUpdate)
	case op.DeleteService != nil:
		return a.deleteService(op.DeleteService)
	case op.GC != nil:
		return a.gc(op.GC)
	case op.UpdateDeployment != nil:
		return a.updateDeployment(op.UpdateDeployment)
	case op.AllocAction != nil:
		return a.allocAction(op.AllocAction) // lifecycle.go
	case op.StopAlloc != nil:
		return a.stopAlloc(op.StopAlloc) // lifecycle.go
	default:
		return a.allocEvents(op.AllocEvents)
	}
}

// --- helpers ---------------------------------------------------------------

func (a *applier) insert(table string, obj any) {
	if err := a.txn.Insert(table, obj); err != nil {
		// Inputs are validated before any write, so this is a bug.
		panic("BUG: insert into " + table + ": " + err.Error())
	}
	a.changed[table] = true
	if al, ok := obj.(*structs.Allocation); ok {
		a.touchDeployment(al.DeploymentID)
	}
}

func (a *applier) delete(table string, obj any) {
	if err := a.txn.Delete(table, obj); err != nil {
		panic("BUG: delete from " + table + ": " + err.Error())
	}
	a.changed[table] = true
}

func firstTxn[T any](txn *memdb.Txn, table string, args ...any) T {
	var zero T
	raw, err := txn.First(table, "id", args...)
	if err != nil || raw == nil {
		return zero
	}
	return raw.(T)
}

// checkID rejects IDs that are empty or contain NUL (the index separator).
func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%w: %s has no ID", ErrBadCommand, what)
	}
	if bytes.IndexByte([]byte(id), 0) >= 0 {
		return fmt.Errorf("%w: %s ID %q contains a NUL byte", ErrBadCommand, what, id)
	}
	return nil
}

func checkNamespace(ns *string) error {
	if *ns == "" {
		*ns = DefaultNamespace
	}
	return checkID("namespace", *ns)
}

func validClientStatus(s string) bool {
	switch s {
	case protocol.AllocPending, protocol.AllocRunning, protocol.AllocComplete,
		protocol.AllocFailed, protocol.AllocLost, protocol.AllocUnknown:
		return true
	}
	return false
}

func appendEvents(old []structs.AllocEvent, add ...structs.AllocEvent) []structs.AllocEvent {
	if len(add) == 0 {
		return old
	}
	out := make([]structs.AllocEvent, 0, len(old)+len(add))
	out = append(append(out, old...), add...)
	if len(out) > maxAllocEvents {
		out = out[len(out)-maxAllocEvents:]
	}
	return out
}

// cleanTaskStates drops nil entries so readers never meet a nil *TaskState.
func cleanTaskStates(m map[string]*structs.TaskState) map[string]*structs.TaskState {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m
}

// --- evals -------------------------------------------------------------------

func checkEval(e *structs.Evaluation) error {
	if e == nil {
		return fmt.Errorf("%w: nil evaluation", ErrBadCommand)
	}
	if err := checkID("evaluation", e.ID); err != nil {
		return err
	}
	if e.JobID != "" {
		if err := checkNamespace(&e.Namespace); err != nil {
			return err
		}
	}
	if e.Status == "" {
		e.Status = structs.EvalPending
	}
	return nil
}

func (a *applier) upsertEval(e *structs.Evaluation) {
	if old := firstTxn[*structs.Evaluation](a.txn, TableEvals, e.ID); old != nil {
		e.CreateIndex = old.CreateIndex
		if e.CreateTime == 0 {
			e.CreateTime = old.CreateTime
		}
	} else {
		e.CreateIndex = a.index
	}
	e.ModifyIndex = a.index
	a.insert(TableEvals, e)
	if e.Status == structs.EvalPending {
		a.res.EvalsCreated = append(a.res.EvalsCreated, e)
	}
	if e.JobID != "" {
		a.jobs[jobKey{e.Namespace, e.JobID}] = true
	}
}

func (a *applier) upsertEvals(evals []*structs.Evaluation) error {
	for _, e := range evals {
		if err := checkEval(e); err != nil {
			return err
		}
	}
	for _, e := range evals {
		a.upsertEval(e)
	}
	return nil
}
