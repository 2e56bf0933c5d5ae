package state

import (
	"errors"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

func TestAllocActionsAndStop(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), testEval("e1", "web")))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0)}, nil))

	act := func(kind, sig string) *ApplyResult {
		return h.apply(Op{AllocAction: &AllocActionOp{AllocID: "a1", Action: structs.AllocAction{Kind: kind, Signal: sig, By: "ops"}}})
	}
	for i := 0; i < protocol.MaxAllocActions+2; i++ {
		res := act(protocol.ActionRestart, "")
		if res.Err != nil {
			t.Fatalf("restart %d: %v", i, res.Err)
		}
		if len(res.NodesChanged) != 1 || res.NodesChanged[0] != "n1" {
			t.Fatalf("restart %d changed nodes %v: the desired state must be published again", i, res.NodesChanged)
		}
	}
	a := h.store.AllocByID("a1")
	if n := len(a.Actions); n != protocol.MaxAllocActions || a.Actions[0].Seq != 3 || a.Actions[n-1].Seq != protocol.MaxAllocActions+2 {
		t.Fatalf("actions kept: %+v", a.Actions)
	}
	for _, bad := range [][2]string{{"reboot", ""}, {protocol.ActionSignal, ""}, {protocol.ActionRestart, "SIGHUP"}} {
		if res := act(bad[0], bad[1]); !errors.Is(res.Err, ErrBadCommand) {
			t.Errorf("action %v: %v", bad, res.Err)
		}
	}

	// A plan's in-place update does not undo the operator's actions.
	h.mustApply(upsertJob(testJob("web", 1), testEval("e2", "web")))
	up := *h.store.AllocByID("a1")
	up.Actions = nil
	up.JobVersion = h.store.JobByID("default", "web").Version
	h.mustApply(plan([]*structs.Allocation{&up}, nil))
	if n := len(h.store.AllocByID("a1").Actions); n != protocol.MaxAllocActions {
		t.Fatalf("an in-place update left %d actions", n)
	}

	e := testEval("e-stop", "web")
	e.TriggeredBy = "alloc-stop"
	res := h.mustApply(Op{StopAlloc: &StopAlloc{AllocID: "a1", Eval: e, Now: 3000, By: "token \"ops\""}})
	a = h.store.AllocByID("a1")
	if a.DesiredStatus != protocol.DesiredStop || len(a.Events) == 0 || a.Events[len(a.Events)-1].Type != "Stopped" {
		t.Fatalf("stopped allocation: %+v", a)
	}
	if len(res.EvalsCreated) != 1 || res.EvalsCreated[0].ID != "e-stop" || len(res.NodesChanged) != 1 {
		t.Fatalf("stop: evals %v, nodes %v", res.EvalsCreated, res.NodesChanged)
	}
	if res := act(protocol.ActionRestart, ""); !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("restart of a stopped allocation: %v", res.Err)
	}
	if res := h.apply(Op{StopAlloc: &StopAlloc{AllocID: "a1", Eval: testEval("e-2", "web"), Now: 4000}}); !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("second stop: %v", res.Err)
	}
	if res := h.apply(Op{StopAlloc: &StopAlloc{AllocID: "nope", Eval: testEval("e-3", "web"), Now: 4000}}); !errors.Is(res.Err, ErrNotFound) {
		t.Fatalf("stop of an unknown allocation: %v", res.Err)
	}
}
