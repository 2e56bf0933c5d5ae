package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// An agent's first report of an allocation's deployment health is applied
// and evaluates the job (in the same entry), so the rollout continues; the
// report repeated by later updates, or one for another deployment, makes
// no evaluation.
func TestHealthReportEvaluatesTheJobOnce(t *testing.T) {
	s := testServer(t, 10*time.Second)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 5*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready: %+v", n)
		}
		return nil
	})
	if _, _, err := s.SubmitJob(context.Background(), testJob(2)); err != nil {
		t.Fatal(err)
	}
	var allocs []*structs.Allocation
	eventually(t, 5*time.Second, func() error {
		allocs = s.store.AllocsByJob("default", "web")
		if len(allocs) != 2 {
			return fmt.Errorf("%d allocs", len(allocs))
		}
		return nil
	})
	// Both allocs belong to deployment d1 (as the deployments' scheduler
	// would place them).
	var upd []*structs.Allocation
	for _, al := range allocs {
		c := *al
		c.DeploymentID = "d1"
		upd = append(upd, &c)
	}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: "test", Place: upd}, Now: time.Now().UnixNano()}}}}); err != nil {
		t.Fatal(err)
	}
	healthEvals := func() int {
		n := 0
		for _, e := range s.store.EvalsByJob("default", "web") {
			if e.TriggeredBy == triggerDeploymentHealth {
				n++
			}
		}
		return n
	}
	seq := uint64(0)
	report := func(id, deployment string) {
		seq++
		a.publish(a.topics.Up("n1"), 1, &protocol.Update{V: protocol.Version, Allocs: []protocol.AllocUpdate{{
			Seq: seq, AllocID: id, ClientStatus: protocol.AllocRunning, Time: time.Now().UnixMilli(),
			Health: &protocol.AllocHealth{Healthy: true, Time: time.Now().UnixMilli(), DeploymentID: deployment}}}})
		want := seq
		eventually(t, 5*time.Second, func() error {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.acked < want {
				return fmt.Errorf("acked %d, want %d", a.acked, want)
			}
			return nil
		})
	}

	report(allocs[0].ID, "d0") // stale: another deployment
	if n := healthEvals(); n != 0 {
		t.Fatalf("a stale report made %d evaluations", n)
	}
	if ds := s.store.AllocByID(allocs[0].ID).DeploymentStatus; ds != nil && ds.Healthy != nil {
		t.Fatalf("a stale report was applied: %+v", ds)
	}
	report(allocs[0].ID, "d1")
	if ds := s.store.AllocByID(allocs[0].ID).DeploymentStatus; ds == nil || ds.Healthy == nil || !*ds.Healthy {
		t.Fatalf("deployment status = %+v, want healthy", ds)
	}
	if n := healthEvals(); n != 1 {
		t.Fatalf("%d evaluations after the first report, want 1", n)
	}
	report(allocs[0].ID, "d1") // the same report again, as every later update carries it
	if n := healthEvals(); n != 1 {
		t.Fatalf("%d evaluations after a repeated report, want 1", n)
	}
}
