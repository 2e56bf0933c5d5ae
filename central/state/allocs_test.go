package state

import (
	"errors"
	"slices"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func TestNodeOps(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")))
	h.mustApply(Op{NodeEligibility: &NodeEligibility{NodeID: "n1", Eligible: false, Drain: true}})
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 7}})

	// Re-registration (hello) keeps CreateIndex, drain, eligibility, LastSeq.
	again := testNode("n1")
	again.Version = "1.1"
	r := h.mustApply(nodeOp(again))
	n := h.store.NodeByID("n1")
	if n.CreateIndex != 1 || n.ModifyIndex != r.Index || !n.Drain || n.Eligible || n.LastSeq != 7 || n.Version != "1.1" {
		t.Fatalf("re-registered node: %+v", n)
	}

	h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: structs.NodeDown, Description: "missed heartbeats", Now: 99}})
	n = h.store.NodeByID("n1")
	if n.Status != structs.NodeDown || n.StatusDescription != "missed heartbeats" || n.StatusUpdatedAt != 99 {
		t.Fatalf("node status: %+v", n)
	}

	for name, op := range map[string]Op{
		"status of unknown node":      {NodeStatus: &NodeStatus{NodeID: "zz", Status: structs.NodeReady}},
		"eligibility of unknown node": {NodeEligibility: &NodeEligibility{NodeID: "zz"}},
		"client update unknown node":  {ClientUpdate: &ClientUpdate{NodeID: "zz"}},
	} {
		if res := h.apply(op); !errors.Is(res.Err, ErrNotFound) {
			t.Errorf("%s: err %v, want ErrNotFound", name, res.Err)
		}
	}
	for name, op := range map[string]Op{
		"bad status":    {NodeStatus: &NodeStatus{NodeID: "n1", Status: "sleeping"}},
		"node no ID":    {UpsertNode: &structs.Node{}},
		"empty op":      {},
		"two fields":    {UpsertNode: testNode("n2"), NodeStatus: &NodeStatus{NodeID: "n1", Status: "ready"}},
		"nil plan":      {ApplyPlan: &ApplyPlan{}},
		"NUL in job ID": {UpsertJob: &UpsertJob{Job: testJob("a\x00b", 1)}},
	} {
		if res := h.apply(op); !errors.Is(res.Err, ErrBadCommand) {
			t.Errorf("%s: err %v, want ErrBadCommand", name, res.Err)
		}
	}
	if h.store.NodeByID("n2") != nil {
		t.Error("an op with two fields was applied")
	}
	if got := len(h.store.Nodes()); got != 1 {
		t.Errorf("nodes: %d", got)
	}
}

func TestBatchRejectsOneOpAndAppliesTheRest(t *testing.T) {
	h := newHarness(t)
	res := h.apply(
		nodeOp(testNode("n1")),
		Op{NodeStatus: &NodeStatus{NodeID: "ghost", Status: "down"}},
		nodeOp(testNode("n2")),
	)
	if !errors.Is(res.Err, ErrNotFound) {
		t.Fatalf("err %v", res.Err)
	}
	if len(h.store.Nodes()) != 2 {
		t.Fatalf("the good ops were not applied: %d nodes", len(h.store.Nodes()))
	}
}

func TestApplyPlanNodesChanged(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), nodeOp(testNode("n2")), nodeOp(testNode("n3")),
		upsertJob(testJob("web", 2), nil))
	h.mustApply(upsertJob(testJob("web", 3), nil)) // v1

	steps := []struct {
		name string
		op   Op
		want []string
	}{
		{"place two", plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "web", 0)}, nil), []string{"n1", "n2"}},
		{"same placement again", plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0)}, nil), nil},
		{"in-place job version update", plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 1)}, nil), []string{"n1"}},
		{"client status only", Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Allocs: []AllocClientUpdate{{ID: "a2", ClientStatus: "running"}}}}, nil},
		{"lost with desired run unchanged", plan(nil, []*structs.Allocation{{ID: "a2", DesiredStatus: "run", ClientStatus: "lost"}}), nil},
		{"stop", plan(nil, []*structs.Allocation{{ID: "a2", DesiredStatus: "stop", DesiredDescription: "node down"}}), []string{"n2"}},
		{"stop missing alloc", plan(nil, []*structs.Allocation{{ID: "nope"}}), nil},
		{"events only", Op{AllocEvents: &AllocEvents{AllocIDs: []string{"a1"}, Event: structs.AllocEvent{Type: "Lost", Time: 7}, ClientStatus: "unknown"}}, nil},
		{"replacement on n3", plan([]*structs.Allocation{func() *structs.Allocation {
			a := testAlloc("a3", "n3", "web", 1)
			a.PreviousAllocation = "a2"
			return a
		}()}, nil), []string{"n3"}},
	}
	for _, s := range steps {
		res := h.mustApply(s.op)
		if !slices.Equal(res.NodesChanged, s.want) {
			t.Errorf("%s: NodesChanged %v, want %v", s.name, res.NodesChanged, s.want)
		}
	}

	a1 := h.store.AllocByID("a1")
	if a1.JobVersion != 1 || a1.Job == nil || a1.Job.Version != 1 || a1.CreateIndex == a1.ModifyIndex {
		t.Errorf("a1 after update: version %d create %d modify %d", a1.JobVersion, a1.CreateIndex, a1.ModifyIndex)
	}
	if a1.ClientStatus != "unknown" || len(a1.Events) != 1 || a1.Events[0].Type != "Lost" || a1.ModifyTime != 7 {
		t.Errorf("a1 events: %+v", a1)
	}
	a2 := h.store.AllocByID("a2")
	if a2.DesiredStatus != "stop" || a2.ClientStatus != "lost" || a2.NextAllocation != "a3" || a2.DesiredDescription != "node down" {
		t.Errorf("a2: %+v", a2)
	}
	if a3 := h.store.AllocByID("a3"); a3.ClientStatus != "pending" || a3.CreateTime != 2000 {
		t.Errorf("a3 defaults: %+v", a3)
	}
	if got := len(h.store.AllocsByJob("default", "web")); got != 3 {
		t.Errorf("allocs by job: %d", got)
	}
	if got := h.store.AllocsByNode("n2"); len(got) != 1 || got[0].ID != "a2" {
		t.Errorf("allocs by node n2: %v", got)
	}
	if got := h.store.AllocsByIDPrefix("a"); len(got) != 3 {
		t.Errorf("allocs by prefix: %d", len(got))
	}

	// A placement of a job version the store lacks rejects the whole op.
	res := h.apply(plan([]*structs.Allocation{testAlloc("b1", "n1", "web", 0), testAlloc("b2", "n1", "web", 42)}, nil))
	if !errors.Is(res.Err, ErrNotFound) || h.store.AllocByID("b1") != nil {
		t.Errorf("plan with a missing job version: err %v, b1 applied: %v", res.Err, h.store.AllocByID("b1") != nil)
	}
}

func TestApplyPlanEvals(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), testEval("e1", "web")))
	done := testEval("e1", "web")
	done.Status = structs.EvalComplete
	follow := testEval("e2", "web")
	follow.TriggeredBy = structs.TriggerRetryFailed
	r := h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e1"}, Eval: done, NewEvals: []*structs.Evaluation{follow}}})
	if len(r.EvalsCreated) != 1 || r.EvalsCreated[0].ID != "e2" {
		t.Fatalf("evals created: %+v", r.EvalsCreated)
	}
	e1 := h.store.EvalByID("e1")
	if e1.Status != structs.EvalComplete || e1.CreateIndex != 1 || e1.ModifyIndex != 2 {
		t.Errorf("e1: %+v", e1)
	}
	if p := h.store.PendingEvals(); len(p) != 1 || p[0].ID != "e2" {
		t.Errorf("pending: %v", p)
	}
	if b := h.store.EvalsByStatus(structs.EvalComplete); len(b) != 1 || b[0].ID != "e1" {
		t.Errorf("complete evals: %v", b)
	}
	if got := len(h.store.EvalsByJob("default", "web")); got != 2 {
		t.Errorf("evals by job: %d", got)
	}

	// UpsertEvals: pending evals oldest first.
	h.mustApply(Op{UpsertEvals: []*structs.Evaluation{testEval("a-late", "web")}})
	if p := h.store.PendingEvals(); len(p) != 2 || p[0].ID != "e2" || p[1].ID != "a-late" {
		t.Errorf("pending order: %s, %s", p[0].ID, p[1].ID)
	}
}

func TestClientUpdate(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), nodeOp(testNode("n2")), upsertJob(testJob("web", 2), nil))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "web", 0)}, nil))

	res := h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 12, Now: 555, Allocs: []AllocClientUpdate{
		{ID: "a1", ClientStatus: "running", TaskStates: map[string]*structs.TaskState{
			"server": {State: "running", StartedAt: 10}, "ghost": nil}, ModifyTime: 444},
		{ID: "a2", ClientStatus: "failed"},       // n2's alloc: ignored
		{ID: "missing", ClientStatus: "running"}, // unknown: ignored
		{ID: "a1", ClientStatus: "weird"},        // bad status: ignored
	}}})
	if res.Ignored != 3 || len(res.NodesChanged) != 0 {
		t.Fatalf("ignored %d, nodes changed %v", res.Ignored, res.NodesChanged)
	}
	a1 := h.store.AllocByID("a1")
	if a1.ClientStatus != "running" || a1.TaskStates["server"].StartedAt != 10 || a1.ModifyTime != 444 {
		t.Fatalf("a1: %+v", a1)
	}
	if _, ok := a1.TaskStates["ghost"]; ok {
		t.Error("nil task state stored")
	}
	if a1.Job == nil {
		t.Error("a1 lost its job link")
	}
	if a2 := h.store.AllocByID("a2"); a2.ClientStatus != "pending" {
		t.Errorf("another node's update applied to a2: %q", a2.ClientStatus)
	}
	if n := h.store.NodeByID("n1"); n.LastSeq != 12 {
		t.Errorf("LastSeq %d", n.LastSeq)
	}
	// An older sequence number never lowers LastSeq.
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 3}})
	if n := h.store.NodeByID("n1"); n.LastSeq != 12 {
		t.Errorf("LastSeq went back to %d", n.LastSeq)
	}
}

func TestAllocEventsBounded(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), nil))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0)}, nil))
	for i := 0; i < maxAllocEvents+5; i++ {
		h.mustApply(Op{AllocEvents: &AllocEvents{AllocIDs: []string{"a1", "zz"}, Event: structs.AllocEvent{Type: "Reconnected", Time: int64(i)}}})
	}
	a := h.store.AllocByID("a1")
	if len(a.Events) != maxAllocEvents || a.Events[len(a.Events)-1].Time != int64(maxAllocEvents+4) {
		t.Fatalf("events: %d, last %+v", len(a.Events), a.Events[len(a.Events)-1])
	}
	if res := h.apply(Op{AllocEvents: &AllocEvents{ClientStatus: "exploded"}}); !errors.Is(res.Err, ErrBadCommand) {
		t.Errorf("bad client status: %v", res.Err)
	}
}

func TestSnapshotIsolation(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")))
	snap := h.store.Snapshot()
	h.mustApply(nodeOp(testNode("n2")))
	if len(snap.Nodes()) != 1 || snap.Index(TableNodes) != 1 {
		t.Fatalf("snapshot saw a later write: %d nodes", len(snap.Nodes()))
	}
	if len(h.store.Nodes()) != 2 {
		t.Fatal("store missed the write")
	}
}
