package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// liveAllocsOn returns the job's allocations on nodeID that central still wants
// running.
func liveAllocsOn(s *Server, jobID, nodeID string) []*structs.Allocation {
	var out []*structs.Allocation
	for _, a := range s.store.AllocsByJob("default", jobID) {
		if a.NodeID == nodeID && a.DesiredStatus == protocol.DesiredRun && !a.Terminal() {
			out = append(out, a)
		}
	}
	return out
}

// drainAndDisable submits j, waits for its one allocation on n1, which a
// reports running; drains n1, waits for central to stop the allocation,
// which a reports complete; then disables the drain and returns the
// evaluations that made.
func drainAndDisable(t *testing.T, s *Server, a *wireAgent, j *jobspec.Job) []string {
	t.Helper()
	if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	var first *structs.Allocation
	eventually(t, 10*time.Second, func() error {
		if l := liveAllocsOn(s, j.ID, "n1"); len(l) != 1 {
			return fmt.Errorf("%d live allocs on n1", len(l))
		} else {
			first = l[0]
		}
		return nil
	})
	a.report(1, first.ID, protocol.AllocRunning)
	if _, _, err := s.UpdateNode(context.Background(), "n1", false, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if al := s.store.AllocByID(first.ID); al.DesiredStatus != protocol.DesiredStop {
			return fmt.Errorf("alloc on the draining node: desired %s", al.DesiredStatus)
		}
		return nil
	})
	a.report(2, first.ID, protocol.AllocComplete)
	eventually(t, 10*time.Second, func() error {
		if al := s.store.AllocByID(first.ID); !al.Terminal() {
			return fmt.Errorf("alloc still %s", al.ClientStatus)
		}
		return nil
	})
	ids, _, err := s.UpdateNode(context.Background(), "n1", true, false)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func systemTestJob(id, typ string) *jobspec.Job {
	j := testJob(0)
	j.ID, j.Name, j.Type = id, id, typ
	j.Canonicalize()
	return j
}

// A drain stops a system job's allocation on the node, and the agent
// reports it over; when the drain is disabled, the job comes back there
// although the node holds nothing of it any more.
func TestSystemJobComesBackWhenDrainDisabled(t *testing.T) {
	s := testServer(t, time.Minute)
	a := newWireAgent(t, s, "n1")
	a.hello()
	waitReady(t, s, "n1")
	ids := drainAndDisable(t, s, a, systemTestJob("agentd", jobspec.JobTypeSystem))
	if len(ids) != 1 {
		t.Errorf("disabling the drain created %d evaluations, want 1 (the system job)", len(ids))
	}
	eventually(t, 10*time.Second, func() error {
		if l := liveAllocsOn(s, "agentd", "n1"); len(l) != 1 {
			return fmt.Errorf("%d live allocs of the system job on n1 after the drain was disabled", len(l))
		}
		return nil
	})
}

// A system (and a sysbatch) job submitted while the node was ineligible
// starts there once the node is marked eligible; a system job whose
// constraints the node fails gets no evaluation.
func TestSystemJobsStartWhenNodeEligibleAgain(t *testing.T) {
	s := testServer(t, time.Minute)
	a := newWireAgent(t, s, "n1")
	a.hello()
	waitReady(t, s, "n1")
	if _, _, err := s.UpdateNode(context.Background(), "n1", false, false); err != nil {
		t.Fatal(err)
	}
	amd := systemTestJob("amd-only", jobspec.JobTypeSystem)
	amd.Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}} // the wire agent is arm64
	for _, j := range []*jobspec.Job{systemTestJob("agentd", jobspec.JobTypeSystem), systemTestJob("inventory", jobspec.JobTypeSysBatch), amd} {
		if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	ids, _, err := s.UpdateNode(context.Background(), "n1", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Errorf("marking the node eligible created %d evaluations, want 2 (agentd and inventory, not amd-only)", len(ids))
	}
	eventually(t, 10*time.Second, func() error {
		for _, id := range []string{"agentd", "inventory"} {
			if l := liveAllocsOn(s, id, "n1"); len(l) != 1 {
				return fmt.Errorf("%s: %d live allocs on n1", id, len(l))
			}
		}
		return nil
	})
	if l := liveAllocsOn(s, "amd-only", "n1"); len(l) != 0 {
		t.Errorf("amd-only placed on an arm64 node")
	}
	// Marking an eligible node eligible again evaluates nothing new.
	if ids, _, err := s.UpdateNode(context.Background(), "n1", true, false); err != nil || len(ids) != 2 {
		t.Errorf("UpdateNode again = %d evals, %v; want the 2 jobs with live allocs there", len(ids), err)
	}
}

// A service job whose only node is drained has its allocation migrated
// nowhere (queued); when the drain is disabled, the job is placed there
// again (the node's return to eligibility is the new capacity it waited
// for, as a blocked evaluation is unblocked on Nomad).
func TestServiceJobPlacedWhenDrainDisabled(t *testing.T) {
	s := testServer(t, time.Minute)
	a := newWireAgent(t, s, "n1")
	a.hello()
	waitReady(t, s, "n1")
	j := testJob(1)
	ids := drainAndDisable(t, s, a, j)
	if len(ids) != 1 {
		t.Errorf("disabling the drain created %d evaluations, want 1 (the job short of its count)", len(ids))
	}
	eventually(t, 10*time.Second, func() error {
		if l := liveAllocsOn(s, j.ID, "n1"); len(l) != 1 {
			return fmt.Errorf("%d live allocs of the service job on n1 after the drain was disabled", len(l))
		}
		return nil
	})
}
