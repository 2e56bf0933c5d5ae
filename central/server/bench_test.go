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

// BenchmarkScheduleAndApply10000 measures what a user waits for after
// submitting a big job on a real (single-server) central: the job through
// Raft, the scheduler placing 10,000 allocations on 5,000 nodes, the plan
// committed through Raft into the state store, and desired state published
// to every node on the embedded broker.
func BenchmarkScheduleAndApply10000(b *testing.B) {
	s := testServer(b, time.Minute)
	const nodes, count = 5000, 10000
	cmd := &state.Command{}
	now := time.Now().UnixNano()
	for i := 0; i < nodes; i++ {
		cmd.Ops = append(cmd.Ops, state.Op{UpsertNode: &structs.Node{
			ID: fmt.Sprintf("node-%05d", i), Name: fmt.Sprintf("n%d", i), Datacenter: "dc1", Status: structs.NodeReady,
			Eligible: true, Drivers: []string{"exec"}, StatusUpdatedAt: now,
			Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"},
			Resources:  structs.Resources{CPU: 4000, MemoryMB: 8192},
		}})
	}
	if _, err := s.apply(cmd); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		job := &jobspec.Job{ID: fmt.Sprintf("big-%d", i), Type: "service", Datacenters: []string{"dc1"}, TaskGroups: []*jobspec.TaskGroup{{
			Name: "g", Count: count,
			Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"},
				Resources: &jobspec.Resources{CPU: 10, MemoryMB: 10}}},
		}}}
		job.Canonicalize()
		evalID, _, err := s.SubmitJob(context.Background(), job)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for idx := uint64(0); ; idx = s.store.Wait(ctx, "evals", idx) {
			if ctx.Err() != nil {
				b.Fatal("evaluation did not finish within a minute")
			}
			if e := s.store.EvalByID(evalID); e != nil && e.Status != structs.EvalPending {
				if e.Status != structs.EvalComplete || len(e.PlacedAllocs) != count {
					b.Fatalf("eval %s: %s, placed %d", e.Status, e.StatusDescription, len(e.PlacedAllocs))
				}
				break
			}
		}
		cancel()
	}
	b.ReportMetric(float64(count*b.N)/b.Elapsed().Seconds(), "allocs/s")
}
