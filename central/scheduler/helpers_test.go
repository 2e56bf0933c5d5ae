package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// memState is an in-memory State for tests and benchmarks.
type memState struct {
	jobs   map[string]*jobspec.Job
	nodes  []*structs.Node
	allocs []*structs.Allocation
	byNode map[string][]*structs.Allocation
	byJob  map[string][]*structs.Allocation
}

func newState() *memState {
	return &memState{jobs: map[string]*jobspec.Job{}, byNode: map[string][]*structs.Allocation{}, byJob: map[string][]*structs.Allocation{}}
}

func (m *memState) JobByID(ns, id string) *jobspec.Job { return m.jobs[ns+"/"+id] }
func (m *memState) Nodes() []*structs.Node             { return m.nodes }
func (m *memState) AllocsByJob(ns, id string) []*structs.Allocation {
	return m.byJob[ns+"/"+id]
}
func (m *memState) AllocsByNode(id string) []*structs.Allocation { return m.byNode[id] }

func (m *memState) addJob(j *jobspec.Job) { m.jobs[j.Namespace+"/"+j.ID] = j }
func (m *memState) addNode(n ...*structs.Node) {
	m.nodes = append(m.nodes, n...)
}
func (m *memState) addAlloc(as ...*structs.Allocation) {
	for _, a := range as {
		m.allocs = append(m.allocs, a)
		m.byNode[a.NodeID] = append(m.byNode[a.NodeID], a)
		m.byJob[a.Namespace+"/"+a.JobID] = append(m.byJob[a.Namespace+"/"+a.JobID], a)
	}
}

// applyPlan returns a new state with the plan applied, as central's state
// store does: plan events are appended to the stored ones, an update in
// Place keeps the client's status, Unknown sets it to unknown.
func (m *memState) applyPlan(p *structs.Plan) *memState {
	out := newState()
	for k, v := range m.jobs {
		out.jobs[k] = v
	}
	out.nodes = m.nodes
	cur := map[string]*structs.Allocation{}
	var order []string
	for _, a := range m.allocs {
		cur[a.ID] = a
		order = append(order, a.ID)
	}
	merge := func(a *structs.Allocation, keepClient bool) {
		c := *a
		if old := cur[a.ID]; old != nil {
			if keepClient {
				c.ClientStatus, c.TaskStates = old.ClientStatus, old.TaskStates
			}
			c.Events = append(slices.Clone(old.Events), a.Events...)
		} else {
			order = append(order, a.ID)
		}
		cur[a.ID] = &c
	}
	for _, a := range p.Place {
		merge(a, true)
	}
	for _, a := range p.Unknown {
		merge(a, false)
		cur[a.ID].ClientStatus = protocol.AllocUnknown
	}
	for _, a := range p.Stop {
		merge(a, false)
		if a.ClientStatus == "" {
			cur[a.ID].ClientStatus = m.byID(a.ID).ClientStatus
		}
	}
	for _, id := range order {
		out.addAlloc(cur[id])
	}
	return out
}

func (m *memState) byID(id string) *structs.Allocation {
	for _, a := range m.allocs {
		if a.ID == id {
			return a
		}
	}
	return &structs.Allocation{}
}

func node(id string, mut ...func(*structs.Node)) *structs.Node {
	n := &structs.Node{
		ID:         id,
		Name:       "name-" + id,
		Datacenter: "dc1",
		Status:     structs.NodeReady,
		Eligible:   true,
		Drivers:    []string{"exec", "wasm"},
		Attributes: map[string]string{"cpu.arch": "amd64", "kernel.name": "linux", "os.version": "12.4"},
		Meta:       map[string]string{},
		Resources:  structs.Resources{CPU: 4000, MemoryMB: 8192},
	}
	for _, f := range mut {
		f(n)
	}
	return n
}

func job(id, typ string, count int, mut ...func(*jobspec.Job)) *jobspec.Job {
	j := &jobspec.Job{
		ID:          id,
		Name:        id,
		Namespace:   "default",
		Type:        typ,
		Priority:    50,
		Datacenters: []string{"dc1"},
		Version:     1,
		TaskGroups: []*jobspec.TaskGroup{{
			Name:  "web",
			Count: count,
			Tasks: []*jobspec.Task{{
				Name:      "server",
				Driver:    "exec",
				Resources: &jobspec.Resources{CPU: 500, MemoryMB: 256},
			}},
		}},
	}
	for _, f := range mut {
		f(j)
	}
	return j
}

func eval(j *jobspec.Job) *structs.Evaluation {
	return &structs.Evaluation{ID: "eval-" + j.ID, Namespace: j.Namespace, Type: j.Type, JobID: j.ID, TriggeredBy: structs.TriggerJobRegister}
}

// seqIDs returns an ID function that counts up, for deterministic tests.
func seqIDs(prefix string) func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("%s-%06d", prefix, n)
	}
}

func opts() Options { return Options{NewID: seqIDs("alloc"), Now: 1_000} }

// runningAlloc is a live alloc of j's first group on node n.
func runningAlloc(j *jobspec.Job, id, nodeID string, idx int) *structs.Allocation {
	tg := j.TaskGroups[0]
	return &structs.Allocation{
		ID: id, Namespace: j.Namespace, Name: fmt.Sprintf("%s.%s[%d]", j.ID, tg.Name, idx), Index: idx,
		NodeID: nodeID, JobID: j.ID, JobVersion: j.Version, Job: j, TaskGroup: tg.Name,
		Resources:     structs.Resources{CPU: 500, MemoryMB: 256},
		DesiredStatus: "run", ClientStatus: "running",
	}
}

func mustCompute(t *testing.T, st State, e *structs.Evaluation, o Options) *structs.Plan {
	t.Helper()
	p, err := Compute(st, e, o)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return p
}

func nodesOf(p *structs.Plan) map[string]int {
	out := map[string]int{}
	for _, a := range p.Place {
		out[a.NodeID]++
	}
	return out
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
