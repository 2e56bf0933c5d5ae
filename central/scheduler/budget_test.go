package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// tiny makes a job's tasks ask for almost nothing, as the attack's did:
// resources never stop it, only the per-node budgets do.
func tiny(j *jobspec.Job) {
	for _, tg := range j.TaskGroups {
		for _, t := range tg.Tasks {
			t.Resources = &jobspec.Resources{CPU: 1, MemoryMB: 1}
		}
	}
}

func inNamespace(ns string) func(*jobspec.Job) { return func(j *jobspec.Job) { j.Namespace = ns } }

func withEnv(bytes int) func(*jobspec.Job) {
	return func(j *jobspec.Job) {
		j.TaskGroups[0].Tasks[0].Env = map[string]string{"BLOB": strings.Repeat("x", bytes)}
	}
}

// fill puts n tiny live allocs of job filler on node.
func fill(st *memState, filler *jobspec.Job, nodeID string, n int) {
	for k := range n {
		a := runningAlloc(filler, fmt.Sprintf("%s-%s-%d", filler.ID, nodeID, k), nodeID, k)
		a.Resources = structs.Resources{CPU: 1, MemoryMB: 1}
		st.addAlloc(a)
	}
}

func TestNodeBudgets(t *testing.T) {
	const cap = 5
	cases := []struct {
		name   string
		setup  func(st *memState) *jobspec.Job // returns the job to evaluate
		o      func(o *Options)
		placed map[string]int // node → placements
		queued int
		dim    string // DimensionExhausted key of the failure, if queued
	}{{
		name: "full node: another namespace's job stays queued with the reason",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"))
			fill(st, job("filler", "service", cap, inNamespace("a"), tiny), "n1", cap)
			return job("victim", "service", 1, inNamespace("b"), tiny)
		},
		placed: map[string]int{}, queued: 1, dim: DimAllocs,
	}, {
		name: "full node: the job goes to the node with room",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"), node("n2"))
			fill(st, job("filler", "service", cap, inNamespace("a"), tiny), "n1", cap)
			return job("victim", "service", 3, inNamespace("b"), tiny)
		},
		placed: map[string]int{"n2": 3},
	}, {
		name: "a job fills a node up to the cap, and no further",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"))
			fill(st, job("filler", "service", 2, inNamespace("a"), tiny), "n1", 2)
			return job("flood", "service", 10, inNamespace("a"), tiny)
		},
		placed: map[string]int{"n1": cap - 2}, queued: 10 - (cap - 2), dim: DimAllocs,
	}, {
		name: "allocs this plan stops free their slots",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"))
			old := job("web", "service", cap, tiny)
			fill(st, old, "n1", cap)
			return job("web", "service", cap, tiny, func(j *jobspec.Job) {
				j.Version = 2
				j.TaskGroups[0].Tasks[0].Driver = "wasm" // destructive: stop all, place all
			})
		},
		placed: map[string]int{"n1": cap},
	}, {
		name: "stopped and finished allocs do not count",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"))
			f := job("filler", "service", cap, inNamespace("a"), tiny)
			fill(st, f, "n1", cap)
			st.byNode["n1"][0].DesiredStatus = protocol.DesiredStop
			st.byNode["n1"][1].ClientStatus = protocol.AllocComplete
			return job("victim", "service", 3, inNamespace("b"), tiny)
		},
		placed: map[string]int{"n1": 2}, queued: 1, dim: DimAllocs,
	}, {
		name: "system job on a full node fails there, places elsewhere",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"), node("n2"))
			fill(st, job("filler", "service", cap, inNamespace("a"), tiny), "n1", cap)
			return job("sys", "system", 0, inNamespace("b"), tiny)
		},
		placed: map[string]int{"n2": 1}, queued: 1, dim: DimAllocs,
	}, {
		name: "desired-state bytes: big allocs fill a node's budget",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"), node("n2"))
			return job("big", "service", 5, tiny, withEnv(200_000))
		},
		o:      func(o *Options) { o.MaxAllocsPerNode = 100; o.MaxNodeBytes = 450_000 },
		placed: map[string]int{"n1": 2, "n2": 2}, queued: 1, dim: DimDesiredBytes,
	}, {
		name: "desired-state bytes: a node filled by one namespace takes no more from another",
		setup: func(st *memState) *jobspec.Job {
			st.addNode(node("n1"))
			big := job("big", "service", 2, inNamespace("a"), tiny, withEnv(200_000))
			fill(st, big, "n1", 2)
			return job("victim", "service", 1, inNamespace("b"), tiny)
		},
		o: func(o *Options) {
			// Room for the two big allocs and 100 bytes: less than any alloc.
			big := job("big", "service", 2, inNamespace("a"), tiny, withEnv(200_000))
			n, err := desired.AllocBound(big, big.TaskGroups[0])
			if err != nil {
				t.Fatal(err)
			}
			o.MaxAllocsPerNode, o.MaxNodeBytes = 100, 2*(n+desired.DatacenterBytes("dc1"))+100
		},
		placed: map[string]int{}, queued: 1, dim: DimDesiredBytes,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newState()
			j := c.setup(st)
			st.addJob(j)
			o := opts()
			o.MaxAllocsPerNode = cap
			if c.o != nil {
				c.o(&o)
			}
			p := mustCompute(t, st, eval(j), o)
			got := nodesOf(p)
			for _, a := range p.Place {
				if a.JobID != j.ID {
					t.Errorf("placed an alloc of job %s", a.JobID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.placed) {
				t.Errorf("placed %v, want %v", got, c.placed)
			}
			queued := 0
			for _, q := range p.Queued {
				queued += q
			}
			if queued != c.queued {
				t.Errorf("queued %d, want %d", queued, c.queued)
			}
			if c.dim != "" {
				f := p.Failed[j.TaskGroups[0].Name]
				if f == nil || f.DimensionExhausted[c.dim] == 0 {
					t.Errorf("failure metric %+v does not name %q", f, c.dim)
				}
			}
		})
	}
}

// TestPlanNeverOverfillsNode checks, on random clusters, that no plan
// leaves a node with more than MaxAllocsPerNode allocations or more than
// MaxNodeBytes of encoded allocations in its desired state (measured by
// encoding what the leader would publish), unless the node was already
// over before the plan, in which case the plan adds nothing to it.
func TestPlanNeverOverfillsNode(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		st := newState()
		o := opts()
		o.MaxAllocsPerNode = rapid.IntRange(1, 12).Draw(rt, "cap")
		o.MaxNodeBytes = rapid.IntRange(200, 6000).Draw(rt, "budget")
		for i := range rapid.IntRange(1, 6).Draw(rt, "nodes") {
			st.addNode(node(fmt.Sprintf("n%d", i)))
		}
		for k := range rapid.IntRange(0, 3).Draw(rt, "others") {
			other := job(fmt.Sprintf("other%d", k), "service", 1, inNamespace(fmt.Sprintf("ns%d", k)), tiny,
				withEnv(rapid.IntRange(0, 1500).Draw(rt, "oenv")))
			st.addJob(other)
			for _, n := range st.nodes {
				fill(st, other, n.ID, rapid.IntRange(0, 8).Draw(rt, "existing"))
			}
		}
		typ := rapid.SampledFrom([]string{"service", "batch", "system"}).Draw(rt, "type")
		count := 0
		if typ != "system" {
			count = rapid.IntRange(0, 40).Draw(rt, "count")
		}
		j := job("web", typ, count, inNamespace("b"), tiny, withEnv(rapid.IntRange(0, 1500).Draw(rt, "env")))
		st.addJob(j)

		before := budgetUse(st)
		p, err := Compute(st, eval(j), o)
		if err != nil {
			rt.Fatalf("Compute: %v", err)
		}
		after := budgetUse(st.applyPlan(p))
		placedOn := nodesOf(p)
		for _, n := range st.nodes {
			b, a := before[n.ID], after[n.ID]
			if placedOn[n.ID] == 0 {
				continue
			}
			if a.allocs > o.MaxAllocsPerNode {
				rt.Fatalf("node %s: %d allocations after the plan (cap %d, %d before)", n.ID, a.allocs, o.MaxAllocsPerNode, b.allocs)
			}
			if a.bytes > o.MaxNodeBytes {
				rt.Fatalf("node %s: %d desired-state bytes after the plan (budget %d, %d before)", n.ID, a.bytes, o.MaxNodeBytes, b.bytes)
			}
		}
		for _, tg := range j.TaskGroups {
			if p.Queued[tg.Name] > 0 {
				f := p.Failed[tg.Name]
				if f == nil {
					rt.Fatalf("group %s queued with no failure metric", tg.Name)
				}
			}
		}
	})
}

type use struct{ allocs, bytes int }

// budgetUse measures every node's desired state as the leader builds it.
func budgetUse(st *memState) map[string]use {
	out := map[string]use{}
	for _, n := range st.nodes {
		d := desired.Build(n.ID, n.Datacenter, st.byNode[n.ID], 1, 0)
		u := use{allocs: len(d.Allocs)}
		for _, da := range d.Allocs {
			b, err := protocol.Encode(da)
			if err != nil {
				panic(err)
			}
			u.bytes += len(b)
		}
		out[n.ID] = u
	}
	return out
}
