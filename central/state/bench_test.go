package state

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/tether-edge/tether/central/structs"
)

const benchNodes = 1000

// benchBase returns a store with benchNodes nodes and the job "web".
func benchBase(b *testing.B) (*Store, *FSM) {
	s := NewStore()
	ops := []Op{upsertJob(testJob("web", 10000), nil)}
	for i := 0; i < benchNodes; i++ {
		ops = append(ops, nodeOp(testNode(fmt.Sprintf("node-%04d", i))))
	}
	if res := s.ApplyDirect(1, &Command{Ops: ops}); res.Err != nil {
		b.Fatal(res.Err)
	}
	return s, NewFSM(s, nil)
}

func placeCommand(n int, prefix string) *Command {
	place := make([]*structs.Allocation, n)
	for i := range place {
		place[i] = testAlloc(fmt.Sprintf("%s-%08d", prefix, i), fmt.Sprintf("node-%04d", i%benchNodes), "web", 0)
	}
	return &Command{Ops: []Op{{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Place: place}, Now: 1}}}}
}

// BenchmarkApplyPlan10000 applies one raft entry (decode + apply) placing
// 10,000 allocations on 1,000 nodes into a fresh store each time.
func BenchmarkApplyPlan10000(b *testing.B) {
	data, err := EncodeCommand(placeCommand(10000, "a"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_, fsm := benchBase(b)
		b.StartTimer()
		res := fsm.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: data}).(*ApplyResult)
		if res.Err != nil || len(res.NodesChanged) != benchNodes {
			b.Fatalf("apply: %v, %d nodes changed", res.Err, len(res.NodesChanged))
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "allocs/s")
	b.ReportMetric(float64(len(data)), "entry-bytes")
}

// BenchmarkClientUpdate applies raft entries each carrying 100 nodes' client
// updates of 10 allocs (1,000 alloc updates per entry) on a store holding
// 10,000 allocs.
func BenchmarkClientUpdate(b *testing.B) {
	s, fsm := benchBase(b)
	if res := s.ApplyDirect(2, placeCommand(10000, "a")); res.Err != nil {
		b.Fatal(res.Err)
	}
	const nodesPerEntry, allocsPerNode = 100, 10
	var entries [][]byte
	for e := 0; e < benchNodes/nodesPerEntry; e++ {
		var ops []Op
		for n := e * nodesPerEntry; n < (e+1)*nodesPerEntry; n++ {
			cu := &ClientUpdate{NodeID: fmt.Sprintf("node-%04d", n), Seq: 5, Now: 9}
			for k := 0; k < allocsPerNode; k++ {
				cu.Allocs = append(cu.Allocs, AllocClientUpdate{
					ID: fmt.Sprintf("a-%08d", n+k*benchNodes), ClientStatus: "running",
					TaskStates: map[string]*structs.TaskState{"server": {State: "running", StartedAt: 5,
						Events: []structs.TaskEvent{{Type: "Started", Time: 5}}}},
				})
			}
			ops = append(ops, Op{ClientUpdate: cu})
		}
		data, err := EncodeCommand(&Command{Ops: ops})
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, data)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := fsm.Apply(&raft.Log{Index: uint64(3 + i), Type: raft.LogCommand, Data: entries[i%len(entries)]}).(*ApplyResult)
		if res.Err != nil || res.Ignored != 0 {
			b.Fatalf("apply: %v, ignored %d", res.Err, res.Ignored)
		}
	}
	b.ReportMetric(float64(nodesPerEntry*allocsPerNode*b.N)/b.Elapsed().Seconds(), "alloc-updates/s")
}
