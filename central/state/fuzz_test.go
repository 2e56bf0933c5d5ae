package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// seedCommands returns one command per op kind, plus a base state the
// fuzzed commands are applied on top of.
func seedCommands() (base [][]byte, seeds [][]byte) {
	enc := func(ops ...Op) []byte {
		b, err := EncodeCommand(&Command{Ops: ops})
		if err != nil {
			panic("BUG: " + err.Error())
		}
		return b
	}
	base = [][]byte{
		enc(nodeOp(testNode("n1")), nodeOp(testNode("n2")), upsertJob(testJob("web", 2), testEval("e1", "web"))),
		enc(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "web", 0)}, nil)),
		enc(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 1, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running",
			Services: []*structs.ServiceRegistration{testReg("api", "server", "http", 8080, true)}}}}}),
	}
	prev := testAlloc("a3", "n2", "web", 0)
	prev.PreviousAllocation = "a1"
	seeds = [][]byte{
		enc(upsertJob(testJob("web", 5), testEval("e9", "web"))),
		enc(Op{StopJob: &StopJob{Namespace: "default", JobID: "web", Eval: testEval("e8", "web")}}),
		enc(Op{StopJob: &StopJob{JobID: "web", Purge: true}}),
		enc(nodeOp(testNode("n3"))),
		enc(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: "down", Now: 1}}),
		enc(Op{NodeEligibility: &NodeEligibility{NodeID: "n1", Drain: true}}),
		enc(Op{UpsertEvals: []*structs.Evaluation{testEval("e5", "web")}}),
		enc(plan([]*structs.Allocation{prev}, []*structs.Allocation{{ID: "a1", DesiredStatus: "stop", ClientStatus: "lost"}})),
		enc(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: 3, Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "failed",
			TaskStates: map[string]*structs.TaskState{"server": {State: "dead", Failed: true}}}}}}),
		enc(Op{AllocEvents: &AllocEvents{AllocIDs: []string{"a1", "a2"}, Event: structs.AllocEvent{Type: "Lost"}, ClientStatus: "lost"}}),
		enc(Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Seq: 2, Allocs: []AllocClientUpdate{{ID: "a2", ClientStatus: "running",
			Services: []*structs.ServiceRegistration{testReg("api", "server", "http", 8081, false), testReg("db", "", "", 5432, true)}}}}}),
		enc(Op{DeleteService: &DeleteService{Namespace: "default", Name: "api", ID: structs.ServiceID("a1", "server", "api", "http")}}),
		enc(Op{}),
		{0xa0},
		enc(Op{GC: &GC{Jobs: []GCRef{{Namespace: "default", ID: "web", ModifyIndex: 1}}, Allocs: []GCRef{{ID: "a2", ModifyIndex: 2}},
			Evals: []GCRef{{ID: "e1", ModifyIndex: 2}}, Nodes: []GCRef{{ID: "n2", ModifyIndex: 1}}, JoinTokens: []string{"h1"}, ACLTokens: []string{"acc"},
			PruneVersions: []GCRef{{Namespace: "default", ID: "web"}}, KeepVersions: 1, Now: 5}}),
		enc(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e9", Deployment: testDeployment("d1", "web", 0, 1),
			DeploymentUpdates: []*structs.DeploymentStatusUpdate{{DeploymentID: "d0", Status: structs.DeploymentCancelled}}}, Now: 6}}),
		enc(Op{UpdateDeployment: &UpdateDeployment{DeploymentID: "d1", Status: structs.DeploymentFailed, Promote: true, MarkStable: true,
			Healthy: []string{"a1"}, Unhealthy: []string{"a2"}, Eval: testEval("e10", "web"), Now: 7}}),
	}
	return base, seeds
}

// TestFuzzSeedsOnDisk checks that testdata/fuzz/FuzzDecodeCommand holds
// the seeds of seedCommands, one file each, and rewrites them when
// STATE_WRITE_SEEDS=1 (after the command format changes).
func TestFuzzSeedsOnDisk(t *testing.T) {
	write := os.Getenv("STATE_WRITE_SEEDS") == "1"
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeCommand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, seeds := seedCommands()
	for i, s := range seeds {
		path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if write {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != body {
			t.Errorf("%s is not seed %d of seedCommands (%v): rewrite the corpus with STATE_WRITE_SEEDS=1 go test -run TestFuzzSeedsOnDisk ./central/state/", path, i, err)
		}
	}
	if extra, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("seed-%02d", len(seeds)))); len(extra) > 0 {
		t.Errorf("%s is past the last seed of seedCommands: remove it", extra[0])
	}
}

// FuzzDecodeCommand checks that decoding never panics, and that applying
// any decodable command never panics and leaves a store that snapshots and
// restores.
func FuzzDecodeCommand(f *testing.F) {
	base, seeds := seedCommands()
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) && !errors.Is(err, ErrCommandTooLarge) {
				t.Fatalf("unwrapped error: %v", err)
			}
			return
		}
		s := NewStore()
		for i, b := range base {
			bc, err := DecodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			s.ApplyDirect(uint64(i+1), bc)
		}
		res := s.ApplyDirect(10, c)
		if errors.Is(res.Err, errApplyPanic) {
			t.Fatalf("apply panicked: %v", res.Err)
		}
		fsm := NewFSM(s, nil)
		snap, err := fsm.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil {
			t.Fatalf("persist after apply: %v", err)
		}
		if err := NewFSM(NewStore(), nil).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
			t.Fatalf("restore after apply: %v", err)
		}
	})
}
