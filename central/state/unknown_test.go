package state

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func TestApplyPlanMarksUnknownAndKeepsItRunnable(t *testing.T) {
	s := NewStore()
	job := testJob("j", 1)
	idx := uint64(1)
	apply := func(c *Command) *ApplyResult {
		idx++
		res := s.ApplyDirect(idx, c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	apply(&Command{Ops: []Op{{UpsertNode: &structs.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Status: structs.NodeReady, Eligible: true}},
		{UpsertJob: &UpsertJob{Job: job, Now: 1}}}})
	al := &structs.Allocation{ID: "a1", Namespace: "default", NodeID: "n1", JobID: "j", TaskGroup: "web", Name: "j.web[0]",
		JobVersion: s.JobByID("default", "j").Version, DesiredStatus: "run"}
	apply(&Command{Ops: []Op{{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Place: []*structs.Allocation{al}}, Now: 2}}}})
	apply(&Command{Ops: []Op{{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 1, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running"}}, Now: 3}}}})

	u := *s.AllocByID("a1")
	u.Events = []structs.AllocEvent{{Type: "Disconnected", Time: 4}}
	res := apply(&Command{Ops: []Op{{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Unknown: []*structs.Allocation{&u}}, Now: 4}}}})
	got := s.AllocByID("a1")
	if got.ClientStatus != "unknown" || got.DesiredStatus != "run" || len(got.Events) != 1 || got.Events[0].Type != "Disconnected" {
		t.Fatalf("after Unknown: %+v", got)
	}
	if len(res.NodesChanged) != 0 {
		t.Fatalf("marking unknown changed desired state of %v", res.NodesChanged)
	}
	// The agent reconnects and reports it running: unknown → running.
	apply(&Command{Ops: []Op{{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 2, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running"}}, Now: 5}}}})
	if got := s.AllocByID("a1"); got.ClientStatus != "running" {
		t.Fatalf("reconnect report: %s", got.ClientStatus)
	}
}
