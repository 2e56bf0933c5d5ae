package scheduler

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// A node's reserved block is taken out of what it offers: a group that
// fits its resources but not what is left after the reservation is not
// placed there, and the failure names the dimension.
func TestReservedIsNotOffered(t *testing.T) {
	for _, tt := range []struct {
		name     string
		reserved structs.Reserved
		dim      string
	}{
		{"memory", structs.Reserved{MemoryMB: 8192 - 255}, DimMemory},
		{"cpu", structs.Reserved{CPU: 4000 - 499}, DimCPU},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			st.addNode(node("n1", func(n *structs.Node) { n.Reserved = &tt.reserved }))
			j := job("web", "service", 1) // 500 MHz, 256 MB
			st.addJob(j)
			p := mustCompute(t, st, eval(j), opts())
			if len(p.Place) != 0 {
				t.Fatalf("placed %v on a node whose reservation leaves too little", nodesOf(p))
			}
			if f := p.Failed["web"]; f == nil || f.DimensionExhausted[tt.dim] != 1 {
				t.Fatalf("failure %+v, want %s exhausted", f, tt.dim)
			}
			// Without the reservation it fits.
			st.nodes[0].Reserved = nil
			if p := mustCompute(t, st, eval(j), opts()); len(p.Place) != 1 {
				t.Fatalf("without the reservation: placed %v", nodesOf(p))
			}
		})
	}
}

// Exactly what is left after the reservation is enough.
func TestReservedLeavesTheRest(t *testing.T) {
	st := newState()
	st.addNode(node("n1", func(n *structs.Node) { n.Reserved = &structs.Reserved{CPU: 3500, MemoryMB: 8192 - 512} }))
	j := job("web", "service", 3) // each 500 MHz, 256 MB: one fits the CPU left
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 1 || p.Failed["web"] == nil || p.Failed["web"].DimensionExhausted[DimCPU] == 0 {
		t.Fatalf("placed %d, failure %+v; want 1 placed and CPU exhausted", len(p.Place), p.Failed["web"])
	}
}

// Ranking: of two equal nodes, the one with more reserved is fuller, so
// bin-packing prefers it.
func TestReservedCountsAsUsedInTheScore(t *testing.T) {
	st := newState()
	st.addNode(node("a-free"), node("b-reserved", func(n *structs.Node) { n.Reserved = &structs.Reserved{CPU: 2000, MemoryMB: 4096} }))
	j := job("web", "service", 1, func(j *jobspec.Job) {})
	st.addJob(j)
	o := opts()
	o.CandidateLimit = 10
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 1 || p.Place[0].NodeID != "b-reserved" {
		t.Fatalf("placed on %v, want b-reserved (bin-packing: less left over)", nodesOf(p))
	}
}

func TestOffered(t *testing.T) {
	n := &structs.Node{Resources: structs.Resources{CPU: 1000, MemoryMB: 512, Cores: 4}, Reserved: &structs.Reserved{CPU: 2000, MemoryMB: 128}}
	if got := n.Offered(); got != (structs.Resources{CPU: 0, MemoryMB: 384, Cores: 4}) {
		t.Fatalf("offered %+v", got)
	}
}
