package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testJob(id string, count int) *jobspec.Job {
	return &jobspec.Job{
		ID:          id,
		Name:        id,
		Namespace:   "default",
		Type:        jobspec.JobTypeService,
		Priority:    50,
		Datacenters: []string{"dc1"},
		TaskGroups: []*jobspec.TaskGroup{{
			Name:  "web",
			Count: count,
			Tasks: []*jobspec.Task{{
				Name:      "server",
				Driver:    "exec",
				Config:    map[string]any{"command": "/bin/server", "args": []any{"-port", 8080}, "nested": map[string]any{"n": 1.5}},
				Resources: &jobspec.Resources{CPU: 100, MemoryMB: 64},
			}},
		}},
	}
}

func testNode(id string) *structs.Node {
	return &structs.Node{
		ID:         id,
		Name:       "name-" + id,
		Datacenter: "dc1",
		Status:     structs.NodeReady,
		Drivers:    []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64"},
		Resources:  structs.Resources{CPU: 4000, MemoryMB: 4096},
		Eligible:   true,
	}
}

func testAlloc(id, node, job string, version uint64) *structs.Allocation {
	return &structs.Allocation{
		ID:            id,
		Namespace:     "default",
		EvalID:        "eval-x",
		Name:          job + ".web[0]",
		NodeID:        node,
		JobID:         job,
		JobVersion:    version,
		TaskGroup:     "web",
		Resources:     structs.Resources{CPU: 100, MemoryMB: 64},
		DesiredStatus: "run",
		Score:         0.75,
	}
}

// testReg is a service instance as an agent reports it (identity fields
// left for the store to fill).
func testReg(name, task, port string, portNum int, healthy bool) *structs.ServiceRegistration {
	return &structs.ServiceRegistration{ServiceName: name, Task: task, PortLabel: port,
		Address: "10.0.0.1", Port: portNum, Tags: []string{"v1"}, Healthy: healthy}
}

func testEval(id, job string) *structs.Evaluation {
	return &structs.Evaluation{ID: id, Namespace: "default", JobID: job, Type: "service",
		Priority: 50, TriggeredBy: structs.TriggerJobRegister, Status: structs.EvalPending}
}

// harness applies commands through the FSM (encode → decode → apply), as
// raft would, with increasing indexes.
type harness struct {
	t     *testing.T
	store *Store
	fsm   *FSM
	index uint64
}

func newHarness(t *testing.T) *harness {
	s := NewStore()
	return &harness{t: t, store: s, fsm: NewFSM(s, nil)}
}

// apply applies ops as one command and returns the result.
func (h *harness) apply(ops ...Op) *ApplyResult {
	h.t.Helper()
	b, err := EncodeCommand(&Command{Ops: ops})
	if err != nil {
		h.t.Fatalf("encode: %v", err)
	}
	h.index++
	res, ok := h.fsm.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: b}).(*ApplyResult)
	if !ok {
		h.t.Fatalf("Apply returned %T", res)
	}
	return res
}

// mustApply applies ops and fails the test if any op was rejected.
func (h *harness) mustApply(ops ...Op) *ApplyResult {
	h.t.Helper()
	res := h.apply(ops...)
	if res.Err != nil {
		h.t.Fatalf("apply at %d: %v", res.Index, res.Err)
	}
	return res
}

func upsertJob(j *jobspec.Job, e *structs.Evaluation) Op {
	return Op{UpsertJob: &UpsertJob{Job: j, Eval: e, Now: 1000}}
}

func plan(place []*structs.Allocation, stop []*structs.Allocation) Op {
	return Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "eval-x", Place: place, Stop: stop}, Now: 2000}}
}

func nodeOp(n *structs.Node) Op { return Op{UpsertNode: n} }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

type (
	testAllocT   = structs.Allocation
	structs_Plan = structs.Plan
)
