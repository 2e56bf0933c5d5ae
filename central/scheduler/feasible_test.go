package scheduler

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// TestFilters places one alloc on a cluster with one good node and one node
// that a single filter rejects, and checks the filter's metric.
func TestFilters(t *testing.T) {
	withConstraint := func(l, op, r string) func(*jobspec.Job) {
		return func(j *jobspec.Job) {
			j.Constraints = append(j.Constraints, &jobspec.Constraint{LTarget: l, Operand: op, RTarget: r})
		}
	}
	tests := []struct {
		name      string
		bad       func(*structs.Node)
		job       func(*jobspec.Job)
		filtered  map[string]int // ConstraintFiltered
		exhausted map[string]int // DimensionExhausted
		evaluated int            // NodesEvaluated; 0 means 2
		available int            // NodesAvailable["dc1"]; 0 means 2
	}{
		{name: "not ready", bad: func(n *structs.Node) { n.Status = structs.NodeInitializing }, evaluated: 1, available: 1},
		{name: "down", bad: func(n *structs.Node) { n.Status = structs.NodeDown }, evaluated: 1, available: 1},
		{name: "ineligible", bad: func(n *structs.Node) { n.Eligible = false }, evaluated: 1, available: 1},
		{name: "draining", bad: func(n *structs.Node) { n.Drain = true }, evaluated: 1, available: 1},
		{name: "other datacenter", bad: func(n *structs.Node) { n.Datacenter = "dc2" }, evaluated: 1, available: 1},
		{name: "missing driver", bad: func(n *structs.Node) { n.Drivers = []string{"wasm"} },
			filtered: map[string]int{ReasonMissingDrivers: 1}},
		{name: "arch constraint", bad: func(n *structs.Node) { n.Attributes["cpu.arch"] = "arm64" },
			job:      withConstraint("${attr.cpu.arch}", "=", "amd64"),
			filtered: map[string]int{"${attr.cpu.arch} = amd64": 1}},
		{name: "group meta constraint", bad: func(n *structs.Node) { n.Meta["role"] = "db" },
			job: func(j *jobspec.Job) {
				j.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${meta.role}", Operand: "!=", RTarget: "db"}}
			},
			filtered: map[string]int{"${meta.role} != db": 1}},
		{name: "task version constraint", bad: func(n *structs.Node) { n.Attributes["os.version"] = "11.2" },
			job: func(j *jobspec.Job) {
				j.TaskGroups[0].Tasks[0].Constraints = []*jobspec.Constraint{{LTarget: "${attr.os.version}", Operand: "version", RTarget: ">= 12"}}
			},
			filtered: map[string]int{"${attr.os.version} version >= 12": 1}},
		{name: "cpu", bad: func(n *structs.Node) { n.Resources.CPU = 100 }, exhausted: map[string]int{DimCPU: 1}},
		{name: "memory", bad: func(n *structs.Node) { n.Resources.MemoryMB = 100 }, exhausted: map[string]int{DimMemory: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			st.addNode(node("a-bad", tt.bad), node("b-good"))
			j := job("web", "service", 1, func(j *jobspec.Job) {
				if tt.job != nil {
					tt.job(j)
				}
			})
			st.addJob(j)
			o := opts()
			o.CandidateLimit = 10 // look at every node
			p := mustCompute(t, st, eval(j), o)
			if len(p.Place) != 1 || p.Place[0].NodeID != "b-good" {
				t.Fatalf("placed %v, want one alloc on b-good", nodesOf(p))
			}
			m := p.Place[0].Metrics
			wantEval, wantAvail := tt.evaluated, tt.available
			if wantEval == 0 {
				wantEval = 2
			}
			if wantAvail == 0 {
				wantAvail = 2
			}
			if m.NodesEvaluated != wantEval {
				t.Errorf("NodesEvaluated = %d, want %d", m.NodesEvaluated, wantEval)
			}
			if m.NodesAvailable["dc1"] != wantAvail {
				t.Errorf("NodesAvailable = %v, want dc1:%d", m.NodesAvailable, wantAvail)
			}
			if !equalCounts(m.ConstraintFiltered, tt.filtered) {
				t.Errorf("ConstraintFiltered = %v, want %v", m.ConstraintFiltered, tt.filtered)
			}
			if m.NodesFiltered != sum(tt.filtered) {
				t.Errorf("NodesFiltered = %d, want %d", m.NodesFiltered, sum(tt.filtered))
			}
			if !equalCounts(m.DimensionExhausted, tt.exhausted) {
				t.Errorf("DimensionExhausted = %v, want %v", m.DimensionExhausted, tt.exhausted)
			}
			if m.NodesExhausted != sum(tt.exhausted) {
				t.Errorf("NodesExhausted = %d, want %d", m.NodesExhausted, sum(tt.exhausted))
			}
		})
	}
}

func TestDatacenterPatterns(t *testing.T) {
	st := newState()
	st.addNode(node("n1", func(n *structs.Node) { n.Datacenter = "dc1" }),
		node("n2", func(n *structs.Node) { n.Datacenter = "dc2" }),
		node("n3", func(n *structs.Node) { n.Datacenter = "edge" }))
	for _, tt := range []struct {
		dcs  []string
		want int
	}{{[]string{"*"}, 3}, {[]string{"dc*"}, 2}, {[]string{"edge", "dc2"}, 2}, {nil, 3}, {[]string{"nope"}, 0}} {
		j := job("sys", "system", 1, func(j *jobspec.Job) { j.Datacenters = tt.dcs })
		st.addJob(j)
		p := mustCompute(t, st, eval(j), opts())
		if len(p.Place) != tt.want {
			t.Errorf("datacenters %v: placed %d, want %d", tt.dcs, len(p.Place), tt.want)
		}
	}
}

func TestStaticPortCollision(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b"))
	other := job("other", "service", 1)
	busy := runningAlloc(other, "busy", "a", 0)
	busy.Ports = []structs.AllocPort{{Label: "http", Value: 8080}}
	st.addAlloc(busy)
	j := job("web", "service", 3, func(j *jobspec.Job) {
		j.TaskGroups[0].Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http", Static: 8080}, {Label: "admin"}}}}
	})
	st.addJob(j)
	o := opts()
	o.CandidateLimit = 10
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 1 || p.Place[0].NodeID != "b" {
		t.Fatalf("placed %v, want one alloc on b", nodesOf(p))
	}
	if got := p.Place[0].Metrics.DimensionExhausted["port 8080"]; got != 1 {
		t.Errorf("DimensionExhausted[port 8080] = %d, want 1", got)
	}
	ports := p.Place[0].Ports
	if len(ports) != 2 || ports[0].Value != 8080 || ports[1].Value < DefaultPortMin || ports[1].Value > DefaultPortMax {
		t.Errorf("ports = %+v, want http 8080 and a dynamic admin port", ports)
	}
	if p.Queued["web"] != 2 || p.Failed["web"] == nil || p.Failed["web"].CoalescedFailures != 1 {
		t.Errorf("Queued = %v, Failed = %+v; want 2 queued, 1 coalesced failure", p.Queued, p.Failed["web"])
	}
}

func TestDynamicPortsExhausted(t *testing.T) {
	st := newState()
	st.addNode(node("a"))
	j := job("web", "service", 3, func(j *jobspec.Job) {
		j.TaskGroups[0].Tasks[0].Resources = &jobspec.Resources{CPU: 10, MemoryMB: 10}
		j.TaskGroups[0].Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "a"}, {Label: "b"}}}}
	})
	st.addJob(j)
	o := opts()
	o.PortMin, o.PortMax = 30000, 30004 // room for two allocs of two ports
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 2 || p.Queued["web"] != 1 {
		t.Fatalf("placed %d, queued %v; want 2 placed, 1 queued", len(p.Place), p.Queued)
	}
	if p.Failed["web"].DimensionExhausted[DimDynamicPort] != 1 {
		t.Errorf("DimensionExhausted = %v, want dynamic port", p.Failed["web"].DimensionExhausted)
	}
	seen := map[int]bool{}
	for _, a := range p.Place {
		for _, pt := range a.Ports {
			if seen[pt.Value] || pt.Value < 30000 || pt.Value > 30004 {
				t.Errorf("port %d reused or out of range", pt.Value)
			}
			seen[pt.Value] = true
		}
	}
}

func TestDistinctHosts(t *testing.T) {
	for _, level := range []string{"job", "group"} {
		t.Run(level, func(t *testing.T) {
			st := newState()
			st.addNode(node("a"), node("b"), node("c"))
			j := job("web", "service", 4, func(j *jobspec.Job) {
				c := []*jobspec.Constraint{{Operand: OpDistinctHosts, RTarget: "true"}}
				if level == "job" {
					j.Constraints = c
				} else {
					j.TaskGroups[0].Constraints = c
				}
			})
			st.addJob(j)
			st.addAlloc(runningAlloc(j, "existing", "a", 0))
			p := mustCompute(t, st, eval(j), opts())
			on := nodesOf(p)
			if len(p.Place) != 2 || on["a"] != 0 || on["b"] != 1 || on["c"] != 1 {
				t.Errorf("placed %v, want one on b and one on c", on)
			}
			if p.Queued["web"] != 1 {
				t.Errorf("Queued = %v, want web:1", p.Queued)
			}
			if got := p.Failed["web"].ConstraintFiltered["distinct_hosts true"]; got != 3 {
				t.Errorf("failure ConstraintFiltered = %v, want distinct_hosts on all 3 nodes", p.Failed["web"].ConstraintFiltered)
			}
		})
	}
}

func TestDistinctProperty(t *testing.T) {
	st := newState()
	for i, rack := range []string{"r1", "r1", "r2", "r2", "r3"} {
		st.addNode(node(string(rune('a'+i)), func(n *structs.Node) { n.Meta["rack"] = rack }))
	}
	j := job("web", "service", 5, func(j *jobspec.Job) {
		j.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${meta.rack}", Operand: OpDistinctProperty, RTarget: "2"}}
	})
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	perRack := map[string]int{}
	for _, a := range p.Place {
		for _, n := range st.nodes {
			if n.ID == a.NodeID {
				perRack[n.Meta["rack"]]++
			}
		}
	}
	if perRack["r1"] != 2 || perRack["r2"] != 2 || perRack["r3"] != 1 {
		t.Errorf("per rack %v, want r1:2 r2:2 r3:1", perRack)
	}
	if len(p.Place) != 5 || len(p.Queued) != 0 {
		t.Errorf("placed %d queued %v, want 5 placed", len(p.Place), p.Queued)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
