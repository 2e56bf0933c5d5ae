package state

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func TestClientUpdateCannotReviveLostAlloc(t *testing.T) {
	s := NewStore()
	node := &structs.Node{ID: "n1", Name: "n1", Datacenter: "dc1", Status: structs.NodeReady, Eligible: true}
	job := testJob("j", 1)
	alloc := &structs.Allocation{ID: "a1", Namespace: "default", NodeID: "n1", JobID: job.ID, TaskGroup: "web",
		DesiredStatus: "run", ClientStatus: "pending", Name: "j.web[0]"}
	idx := uint64(1)
	apply := func(c *Command) *ApplyResult {
		idx++
		res := s.ApplyDirect(idx, c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	apply(&Command{Ops: []Op{{UpsertNode: node}, {UpsertJob: &UpsertJob{Job: job, Now: 1}}}})
	alloc.JobVersion = s.JobByID("default", job.ID).Version
	apply(&Command{Ops: []Op{{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Place: []*structs.Allocation{alloc}}, Now: 2}}}})
	lost := *s.AllocByID("a1")
	lost.DesiredStatus, lost.ClientStatus = "stop", "lost"
	apply(&Command{Ops: []Op{{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Stop: []*structs.Allocation{&lost}}, Now: 3}}}})
	res := apply(&Command{Ops: []Op{{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 5, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running"}}, Now: 4}}}})
	if got := s.AllocByID("a1").ClientStatus; got != "lost" {
		t.Fatalf("a late report revived a lost alloc: client status %q", got)
	}
	if res.Ignored != 1 {
		t.Fatalf("Ignored = %d, want 1", res.Ignored)
	}
}
