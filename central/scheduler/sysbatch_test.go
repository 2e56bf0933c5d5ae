package scheduler

import (
	"reflect"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// finishedAlloc is an alloc of j's first group on nodeID that ended with
// client status cs.
func finishedAlloc(j *jobspec.Job, id, nodeID, cs string) *structs.Allocation {
	a := runningAlloc(j, id, nodeID, 0)
	a.ClientStatus = cs
	return a
}

func TestSysBatchRunsOncePerNode(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b"), node("c"),
		node("drain", func(n *structs.Node) { n.Drain = true }),
		node("arm", func(n *structs.Node) { n.Attributes["cpu.arch"] = "arm64" }))
	j := job("inventory", jobspec.JobTypeSysBatch, 0, func(j *jobspec.Job) {
		j.Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}}
	})
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p); !reflect.DeepEqual(on, map[string]int{"a": 1, "b": 1, "c": 1}) {
		t.Fatalf("placed on %v, want one on each of a, b, c", on)
	}
	// The allocs run, then finish: complete on a, failed (restarts used
	// up) on b; c still runs.
	st = st.applyPlan(p)
	for _, a := range st.allocs {
		switch a.NodeID {
		case "a":
			a.ClientStatus = protocol.AllocComplete
		case "b":
			a.ClientStatus = protocol.AllocFailed
		case "c":
			a.ClientStatus = protocol.AllocRunning
		}
	}
	p2 := mustCompute(t, st, eval(j), opts())
	if len(p2.Place) != 0 || len(p2.Stop) != 0 {
		t.Errorf("after the run: placed %v, stopped %d; want nothing (a finished alloc of a sysbatch job is neither re-run nor replaced)", nodesOf(p2), len(p2.Stop))
	}
	// A node that joins later runs it once too.
	st.addNode(node("d"))
	p3 := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p3); !reflect.DeepEqual(on, map[string]int{"d": 1}) {
		t.Errorf("after d joined: placed on %v, want d only", on)
	}
}

func TestSysBatchNewVersionRunsAgain(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b"))
	old := job("inventory", jobspec.JobTypeSysBatch, 0, func(j *jobspec.Job) { j.Version = 0 })
	j := job("inventory", jobspec.JobTypeSysBatch, 0, func(j *jobspec.Job) { j.TaskGroups[0].Tasks[0].Env = map[string]string{"V": "1"} })
	st.addJob(j)
	st.addAlloc(finishedAlloc(old, "old-a", "a", protocol.AllocComplete), finishedAlloc(j, "new-b", "b", protocol.AllocComplete))
	p := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p); !reflect.DeepEqual(on, map[string]int{"a": 1}) {
		t.Fatalf("placed on %v, want a only (b ran this version already)", on)
	}
	if prev := p.Place[0].PreviousAllocation; prev != "old-a" {
		t.Errorf("re-run on a links to %q, want old-a", prev)
	}
	p2 := mustCompute(t, st.applyPlan(p), eval(j), opts())
	if len(p2.Place) != 0 {
		t.Errorf("second pass placed %v, want nothing", nodesOf(p2))
	}
}

func TestSysBatchStoppedBeforeFinishingRunsAgain(t *testing.T) {
	st := newState()
	st.addNode(node("a"))
	j := job("inventory", jobspec.JobTypeSysBatch, 0)
	st.addJob(j)
	// A drain stopped it while it ran; the node is eligible again.
	stopped := finishedAlloc(j, "drained", "a", protocol.AllocComplete)
	stopped.DesiredStatus = protocol.DesiredStop
	st.addAlloc(stopped)
	p := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p); !reflect.DeepEqual(on, map[string]int{"a": 1}) {
		t.Errorf("placed on %v, want a: the stopped alloc never finished its run", on)
	}
}

func TestSystemJobStillReplacesFinished(t *testing.T) {
	// The sysbatch rule must not leak into system jobs: a system alloc
	// that exited is run again.
	st := newState()
	st.addNode(node("a"))
	j := job("agent", jobspec.JobTypeSystem, 0)
	st.addJob(j)
	st.addAlloc(finishedAlloc(j, "exited", "a", protocol.AllocComplete))
	p := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p); !reflect.DeepEqual(on, map[string]int{"a": 1}) {
		t.Errorf("placed on %v, want a", on)
	}
}

func TestNodeMayRun(t *testing.T) {
	j := job("agent", jobspec.JobTypeSystem, 0, func(j *jobspec.Job) {
		j.Datacenters = []string{"edge-*"}
		j.Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}}
	})
	inEdge := func(n *structs.Node) { n.Datacenter = "edge-1" }
	for _, tc := range []struct {
		name string
		n    *structs.Node
		want bool
	}{
		{"fits", node("a", inEdge), true},
		{"other datacenter", node("b"), false},
		{"constraint fails", node("c", inEdge, func(n *structs.Node) { n.Attributes["cpu.arch"] = "arm64" }), false},
		{"missing driver", node("d", inEdge, func(n *structs.Node) { n.Drivers = []string{"wasm"} }), false},
	} {
		if got := NodeMayRun(j, tc.n); got != tc.want {
			t.Errorf("%s: NodeMayRun = %v, want %v", tc.name, got, tc.want)
		}
	}
}
