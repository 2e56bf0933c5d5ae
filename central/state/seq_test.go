package state

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// Each agent sequence number is applied once: a replayed or duplicated
// report cannot roll an allocation back; an agent that lost its state file
// (new boot, counter below what was applied) starts numbering afresh.
func TestClientUpdatesApplyEachSequenceOnce(t *testing.T) {
	s := NewStore()
	idx := uint64(1)
	apply := func(ops ...Op) *ApplyResult {
		idx++
		res := s.ApplyDirect(idx, &Command{Ops: ops})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	report := func(seq uint64, status string) Op {
		return Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: seq, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: status, Seq: seq}}, Now: int64(seq)}}
	}
	apply(Op{UpsertNode: &structs.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Status: structs.NodeReady, Eligible: true, Boot: 100}},
		Op{UpsertJob: &UpsertJob{Job: testJob("j", 1), Now: 1}})
	apply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Place: []*structs.Allocation{{ID: "a1", Namespace: "default", NodeID: "n1",
		JobID: "j", TaskGroup: "web", Name: "j.web[0]", JobVersion: s.JobByID("default", "j").Version, DesiredStatus: "run"}}}, Now: 2}})

	apply(report(5, "running"))
	apply(report(9, "complete"))
	if res := apply(report(5, "running")); res.Ignored != 1 {
		t.Fatalf("a replay of seq 5 after seq 9 was applied (ignored %d)", res.Ignored)
	}
	if got := s.AllocByID("a1"); got.ClientStatus != "complete" || got.ClientSeq != 9 {
		t.Fatalf("alloc after replay: %s seq %d", got.ClientStatus, got.ClientSeq)
	}

	// The agent reboots without its state file: new boot, counter at 1.
	apply(Op{UpsertNode: &structs.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Status: structs.NodeReady, Boot: 200, LastSeq: 1}})
	if n := s.NodeByID("n1"); n.LastSeq != 1 {
		t.Fatalf("node LastSeq after state loss = %d, want 1", n.LastSeq)
	}
	if res := apply(report(2, "running")); res.Ignored != 0 || s.AllocByID("a1").ClientStatus != "running" {
		t.Fatalf("a fresh report after state loss was ignored (ignored %d, status %s)", res.Ignored, s.AllocByID("a1").ClientStatus)
	}

	// A plain restart (state kept) does not reset the numbers.
	apply(Op{UpsertNode: &structs.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Status: structs.NodeReady, Boot: 300, LastSeq: 2}})
	if res := apply(report(2, "failed")); res.Ignored != 1 {
		t.Fatalf("a duplicate after a normal restart was applied")
	}
}
