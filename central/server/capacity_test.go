package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// capacityServer is a real single server with nodes ready and jobs
// service jobs of count allocations each placed on them, every evaluation
// complete.
func capacityServer(t testing.TB, nodes, jobs, count int) *Server {
	t.Helper()
	s := testServer(t, time.Minute)
	cmd := &state.Command{}
	now := time.Now().UnixNano()
	for i := 0; i < nodes; i++ {
		cmd.Ops = append(cmd.Ops, state.Op{UpsertNode: &structs.Node{
			ID: fmt.Sprintf("node-%05d", i), Name: fmt.Sprintf("n%d", i), Datacenter: "dc1", Status: structs.NodeReady,
			Eligible: true, Drivers: []string{"exec"}, StatusUpdatedAt: now,
			Resources: structs.Resources{CPU: 100000, MemoryMB: 100000},
		}})
	}
	if _, err := s.apply(cmd); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < jobs; j++ {
		submitCapacityJob(t, s, fmt.Sprintf("svc-%03d", j), "service", count)
	}
	return s
}

func submitCapacityJob(t testing.TB, s *Server, id, typ string, count int) {
	t.Helper()
	job := &jobspec.Job{ID: id, Type: typ, Datacenters: []string{"dc1"}, TaskGroups: []*jobspec.TaskGroup{{
		Name: "g", Count: count,
		Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"},
			Resources: &jobspec.Resources{CPU: 1, MemoryMB: 1}}},
	}}}
	job.Canonicalize()
	evalID, _, err := s.SubmitJob(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for idx := uint64(0); ; idx = s.store.Wait(ctx, "evals", idx) {
		if ctx.Err() != nil {
			t.Fatalf("job %s: evaluation not complete within 2 minutes", id)
		}
		if e := s.store.EvalByID(evalID); e != nil && e.Status != structs.EvalPending {
			return
		}
	}
}

// TestCapacityMemoFollowsState checks that the memoised answer is the
// scan's answer, and that a change of state (a job short of its count, a
// new system job) is seen by the next hello.
func TestCapacityMemoFollowsState(t *testing.T) {
	s := capacityServer(t, 3, 2, 2)
	l := &leader{s: s}
	names := func() map[string]bool {
		out := map[string]bool{}
		for _, e := range l.evalsForNewCapacity(time.Now().UnixNano(), "node-00000") {
			out[e.JobID] = true
		}
		return out
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("every job placed: a joining node serves none, got %v", got)
	}
	// A service job asking for more than the nodes' capacity is short;
	// a system job is served by every node.
	submitCapacityJob(t, s, "sys", "system", 1)
	big := &jobspec.Job{ID: "big", Type: "service", Datacenters: []string{"dc1"}, TaskGroups: []*jobspec.TaskGroup{{
		Name: "g", Count: 5,
		Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"},
			Resources: &jobspec.Resources{CPU: 60000, MemoryMB: 1}}},
	}}}
	big.Canonicalize()
	if _, _, err := s.SubmitJob(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		got := names()
		if !got["sys"] || !got["big"] || len(got) != 2 {
			return fmt.Errorf("joining node serves %v, want sys and big", got)
		}
		return nil
	})
	// The same state twice: the same answer, without computing again.
	l.capacity.mu.Lock()
	at := l.capacity.at
	l.capacity.mu.Unlock()
	names()
	l.capacity.mu.Lock()
	again := l.capacity.at
	l.capacity.mu.Unlock()
	if !again.Equal(at) {
		t.Fatal("the answer was computed again though no table changed")
	}
	// A stopped job is no longer served.
	if _, _, err := s.StopJob(context.Background(), "default", "big", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if got := names(); got["big"] {
			return fmt.Errorf("stopped job still served: %v", got)
		}
		return nil
	})
}

// BenchmarkNodeBackCapacity is the leader's work, for one node coming back
// from an outage, to find the jobs it may serve (a reconnect storm pays it
// once per node): 100 service jobs of 50 allocations (5,000) on 1,000
// nodes. "scan" forgets the memo before each call, which is what every
// hello cost before it; "storm" is hellos between two state changes, as
// in a reconnect storm. The ratio of the two is the fix.
func BenchmarkNodeBackCapacity(b *testing.B) {
	s := capacityServer(b, 1000, 100, 50)
	l := &leader{s: s}
	for _, mode := range []string{"scan", "storm"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if mode == "scan" {
					l.capacity.invalidate()
				}
				if evals := l.evalsForNewCapacity(time.Now().UnixNano(), "node-00001"); len(evals) != 0 {
					b.Fatalf("%d evaluations for a fully placed cluster", len(evals))
				}
			}
		})
	}
}
