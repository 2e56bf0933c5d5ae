package scheduler

import (
	"fmt"
	"math"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestScoreFitBinPack(t *testing.T) {
	capacity := structs.Resources{CPU: 1000, MemoryMB: 1000}
	tests := []struct {
		util structs.Resources
		want float64
	}{
		{structs.Resources{}, 0},                                               // empty: 20 - (10+10)
		{structs.Resources{CPU: 1000, MemoryMB: 1000}, 18},                     // full: 20 - (1+1)
		{structs.Resources{CPU: 500, MemoryMB: 500}, 20 - 2*math.Pow(10, 0.5)}, // half
		{structs.Resources{CPU: 2000, MemoryMB: 2000}, 18},                     // overfull is bounded
		{structs.Resources{CPU: 1000, MemoryMB: 0}, 20 - 1 - 10},               // one dimension full
		{structs.Resources{CPU: 250, MemoryMB: 750}, 20 - math.Pow(10, 0.75) - math.Pow(10, 0.25)},
	}
	for _, tt := range tests {
		if got := ScoreFitBinPack(capacity, tt.util); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ScoreFitBinPack(%+v) = %v, want %v", tt.util, got, tt.want)
		}
	}
	if got := ScoreFitBinPack(structs.Resources{}, structs.Resources{}); got != 18 {
		t.Errorf("zero capacity: %v, want 18 (nothing free)", got)
	}
}

func TestScoreNodeAntiAffinity(t *testing.T) {
	c := structs.Resources{CPU: 1000, MemoryMB: 1000}
	u := structs.Resources{CPU: 500, MemoryMB: 500}
	fit := ScoreFitBinPack(c, u) / 18
	if got := scoreNode(c, u, 0, 4); got != fit {
		t.Errorf("no collisions: %v, want %v", got, fit)
	}
	want := (fit + -3.0/4) / 2 // two collisions, count 4
	if got := scoreNode(c, u, 2, 4); math.Abs(got-want) > 1e-12 {
		t.Errorf("two collisions: %v, want %v", got, want)
	}
}

// TestBinPackingPrefersFullerNode ranks every node and checks the fuller
// one wins and the recorded score is its normalised fit.
func TestBinPackingPrefersFullerNode(t *testing.T) {
	st := newState()
	st.addNode(node("empty"), node("half"))
	other := job("other", "service", 1)
	busy := runningAlloc(other, "busy", "half", 0)
	busy.Resources = structs.Resources{CPU: 2000, MemoryMB: 4096}
	st.addAlloc(busy)
	j := job("web", "service", 1)
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 1 || p.Place[0].NodeID != "half" {
		t.Fatalf("placed on %v, want half", nodesOf(p))
	}
	want := ScoreFitBinPack(structs.Resources{CPU: 4000, MemoryMB: 8192}, structs.Resources{CPU: 2500, MemoryMB: 4352}) / 18
	if got := p.Place[0].Score; math.Abs(got-want) > 1e-12 {
		t.Errorf("Score = %v, want %v", got, want)
	}
}

// TestCandidateLimit checks that a placement looks at few nodes in a big
// cluster, and that placements spread over the cluster.
func TestCandidateLimit(t *testing.T) {
	st := newState()
	for i := range 1024 {
		st.addNode(node(fmt.Sprintf("n%04d", i)))
	}
	j := job("web", "service", 20)
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 20 {
		t.Fatalf("placed %d, want 20", len(p.Place))
	}
	for _, a := range p.Place {
		if a.Metrics.NodesEvaluated > 10+maxSkip {
			t.Errorf("%s evaluated %d nodes, want at most log2(1024)+%d", a.Name, a.Metrics.NodesEvaluated, maxSkip)
		}
	}
	if on := nodesOf(p); len(on) != 20 {
		t.Errorf("20 allocs on %d nodes, want 20 (anti-affinity)", len(on))
	}
	for _, tt := range []struct {
		typ        string
		n, o, want int
	}{{"service", 0, 0, 2}, {"service", 3, 0, 2}, {"service", 5000, 0, 13}, {"batch", 5000, 0, 2}, {"service", 5000, 50, 50}} {
		if got := candidateLimit(tt.typ, tt.n, tt.o); got != tt.want {
			t.Errorf("candidateLimit(%s, %d, %d) = %d, want %d", tt.typ, tt.n, tt.o, got, tt.want)
		}
	}
}

// TestAntiAffinitySpreadsAGroup places more allocs than nodes, ranking
// every node: each node gets its share before any gets more. (With the
// default limit of 2 candidates on 3 nodes the spread is only likely.)
func TestAntiAffinitySpreadsAGroup(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b"), node("c"))
	j := job("web", "service", 6, func(j *jobspec.Job) {
		j.TaskGroups[0].Tasks[0].Resources = &jobspec.Resources{CPU: 100, MemoryMB: 64}
	})
	st.addJob(j)
	o := opts()
	o.CandidateLimit = 3
	p := mustCompute(t, st, eval(j), o)
	for n, c := range nodesOf(p) {
		if c != 2 {
			t.Errorf("node %s got %d allocs, want 2 each", n, c)
		}
	}
}
