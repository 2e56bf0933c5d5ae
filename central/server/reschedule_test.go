package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// TestDelayedRescheduleSurvivesFailover: a failed allocation's delayed
// follow-up evaluation is in the state; the leader dies before its time;
// the new leader places the replacement once, at its time, not earlier.
func TestDelayedRescheduleSurvivesFailover(t *testing.T) {
	servers := authCluster(t, 3, func(c *Config) {
		// Raft's default timings (authCluster's), not dev mode's 100 ms
		// lease: under load a dev-mode leader lost leadership while
		// committing the nodes below.
		c.HeartbeatTTL = 10 * time.Minute // the nodes below send no heartbeats
	})
	leader := leaderOf(t, servers)
	eventually(t, 20*time.Second, func() error {
		if leader.currentLeader() == nil {
			return fmt.Errorf("%s has not started leading", leader.cfg.Name)
		}
		return nil
	})
	for _, id := range []string{"n1", "n2"} {
		n := &structs.Node{ID: id, Name: "node-" + id, Datacenter: "dc1", Status: structs.NodeReady, Eligible: true,
			Drivers: []string{"exec"}, Resources: structs.Resources{CPU: 2000, MemoryMB: 1024}, StatusUpdatedAt: time.Now().UnixNano()}
		if _, err := leader.apply(&state.Command{Ops: []state.Op{{UpsertNode: n}}}); err != nil {
			t.Fatal(err)
		}
	}
	const delay = 10 * time.Second
	j := testJob(1)
	j.TaskGroups[0].Reschedule = &jobspec.ReschedulePolicy{Delay: delay, DelayFunction: jobspec.DelayConstant, Unlimited: true}
	if _, _, err := leader.SubmitJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	var first *structs.Allocation
	eventually(t, 20*time.Second, func() error {
		as := leader.Store().AllocsByJob("default", "web")
		if len(as) != 1 {
			return fmt.Errorf("%d allocs", len(as))
		}
		first = as[0]
		return nil
	})

	// Its agent reports it failed (the leader adds the alloc-failure
	// evaluation to such a report: withFailureEvals).
	now := time.Now().UnixNano()
	ev := newEval("default", "web", "service", 50, structs.TriggerAllocFailure, first.NodeID, now)
	if _, err := leader.apply(&state.Command{Ops: []state.Op{
		{ClientUpdate: &state.ClientUpdate{NodeID: first.NodeID, Now: now, Allocs: []state.AllocClientUpdate{{
			ID: first.ID, ClientStatus: protocol.AllocFailed, ModifyTime: now,
			TaskStates: map[string]*structs.TaskState{"t": {State: "dead", Failed: true, FinishedAt: now}},
		}}}},
		{UpsertEvals: []*structs.Evaluation{ev}},
	}}); err != nil {
		t.Fatal(err)
	}
	var followup *structs.Evaluation
	eventually(t, 20*time.Second, func() error {
		a := leader.Store().AllocByID(first.ID)
		if a.FollowupEvalID == "" {
			return fmt.Errorf("no follow-up evaluation yet")
		}
		followup = leader.Store().EvalByID(a.FollowupEvalID)
		if followup == nil {
			return fmt.Errorf("follow-up %s not stored", a.FollowupEvalID)
		}
		return nil
	})
	if followup.Status != structs.EvalPending || followup.WaitUntil != now+int64(delay) {
		t.Fatalf("follow-up %+v; want pending until the failure + %s", followup, delay)
	}
	if as := leader.Store().AllocsByJob("default", "web"); len(as) != 1 {
		t.Fatalf("%d allocs before the delay; want only the failed one", len(as))
	}
	if time.Now().UnixNano() >= followup.WaitUntil {
		t.Fatalf("the machine took the whole %s delay to get here; the failover below would not be tested", delay)
	}

	leader.Close()
	var rest []*Server
	for _, s := range servers {
		if s != leader {
			rest = append(rest, s)
		}
	}
	next := leaderOf(t, rest)
	var repl *structs.Allocation
	eventually(t, 60*time.Second, func() error {
		var n int
		for _, a := range next.Store().AllocsByJob("default", "web") {
			if a.PreviousAllocation == first.ID {
				repl = a
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("no replacement yet")
		}
		if n > 1 {
			t.Fatalf("%d replacements of %s; want one", n, first.ID)
		}
		return nil
	})
	if repl.CreateTime < followup.WaitUntil {
		t.Errorf("replacement placed %s before the delay ended", time.Duration(followup.WaitUntil-repl.CreateTime))
	}
	if repl.EvalID != followup.ID || repl.NodeID == first.NodeID {
		t.Errorf("replacement placed by %s on %s; want the follow-up %s on the other node than %s", repl.EvalID, repl.NodeID, followup.ID, first.NodeID)
	}
	if len(repl.RescheduleTracker) != 1 || repl.RescheduleTracker[0].PrevAllocID != first.ID {
		t.Errorf("tracker %+v", repl.RescheduleTracker)
	}
	eventually(t, 20*time.Second, func() error {
		if e := next.Store().EvalByID(followup.ID); e.Status != structs.EvalComplete {
			return fmt.Errorf("follow-up is %s", e.Status)
		}
		if a := next.Store().AllocByID(first.ID); a.NextAllocation != repl.ID || a.DesiredStatus != protocol.DesiredStop {
			return fmt.Errorf("failed alloc next %q desired %s", a.NextAllocation, a.DesiredStatus)
		}
		return nil
	})
}
