package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

func TestDrainMigratesRespectingCount(t *testing.T) {
	draining := func(n *structs.Node) { n.Drain = true; n.Eligible = false }
	withWindow := func(j *jobspec.Job) {
		j.TaskGroups[0].Disconnect = &jobspec.Disconnect{LostAfter: time.Hour}
	}
	tests := []struct {
		name      string
		nodes     []*structs.Node
		count     int
		mut       []func(*jobspec.Job)
		allocs    func(j *jobspec.Job) []*structs.Allocation
		wantStops map[string]string // alloc → desired description
		wantLost  []string          // stops with client status lost
		wantPlace map[int]string    // index → previous alloc
		notOn     []string          // nodes no placement may use
	}{
		{
			name:  "one alloc moves off the draining node",
			nodes: []*structs.Node{node("a", draining), node("b")},
			count: 1,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return []*structs.Allocation{runningAlloc(j, "x0", "a", 0)}
			},
			wantStops: map[string]string{"x0": DescMigrating},
			wantPlace: map[int]string{0: "x0"},
			notOn:     []string{"a"},
		},
		{
			name:  "only allocs on the draining node move",
			nodes: []*structs.Node{node("a", draining), node("b"), node("c")},
			count: 3,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return []*structs.Allocation{runningAlloc(j, "x0", "a", 0), runningAlloc(j, "x1", "b", 1), runningAlloc(j, "x2", "c", 2)}
			},
			wantStops: map[string]string{"x0": DescMigrating},
			wantPlace: map[int]string{0: "x0"},
			notOn:     []string{"a"},
		},
		{
			name:  "scale-down drops the draining alloc instead of migrating it",
			nodes: []*structs.Node{node("a", draining), node("b")},
			count: 1,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return []*structs.Allocation{runningAlloc(j, "x0", "a", 0), runningAlloc(j, "x1", "b", 1)}
			},
			wantStops: map[string]string{"x0": DescNotNeeded},
			wantPlace: map[int]string{},
		},
		{
			name:  "ineligible without drain keeps its allocs",
			nodes: []*structs.Node{node("a", func(n *structs.Node) { n.Eligible = false }), node("b")},
			count: 1,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return []*structs.Allocation{runningAlloc(j, "x0", "a", 0)}
			},
			wantStops: map[string]string{},
			wantPlace: map[int]string{},
		},
		{
			name:  "ineligible node gets no new placement",
			nodes: []*structs.Node{node("a", func(n *structs.Node) { n.Eligible = false }), node("b")},
			count: 2,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return nil
			},
			wantStops: map[string]string{},
			wantPlace: map[int]string{0: "", 1: ""},
			notOn:     []string{"a"},
		},
		{
			name: "a draining node that disconnects loses its allocs at once despite a window",
			nodes: []*structs.Node{node("a", draining, func(n *structs.Node) { n.Status = structs.NodeDisconnected }),
				node("b")},
			count: 1,
			mut:   []func(*jobspec.Job){withWindow},
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				return []*structs.Allocation{runningAlloc(j, "x0", "a", 0)}
			},
			wantStops: map[string]string{"x0": DescLost},
			wantLost:  []string{"x0"},
			wantPlace: map[int]string{0: "x0"},
			notOn:     []string{"a"},
		},
		{
			name:  "an old version on a draining node is migrated, not updated in place",
			nodes: []*structs.Node{node("a", draining), node("b")},
			count: 1,
			allocs: func(j *jobspec.Job) []*structs.Allocation {
				a := runningAlloc(j, "x0", "a", 0)
				a.JobVersion = 0
				return []*structs.Allocation{a}
			},
			wantStops: map[string]string{"x0": DescMigrating},
			wantPlace: map[int]string{0: "x0"},
			notOn:     []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			st.addNode(tt.nodes...)
			j := job("web", "service", tt.count, tt.mut...)
			st.addJob(j)
			st.addAlloc(tt.allocs(j)...)
			p := mustCompute(t, st, eval(j), opts())
			stops := map[string]string{}
			var lost []string
			for _, a := range p.Stop {
				stops[a.ID] = a.DesiredDescription
				if a.ClientStatus == protocol.AllocLost {
					lost = append(lost, a.ID)
				}
			}
			if !mapsEqual(stops, tt.wantStops) {
				t.Errorf("stops = %v, want %v", stops, tt.wantStops)
			}
			if !slices.Equal(lost, tt.wantLost) {
				t.Errorf("lost = %v, want %v", lost, tt.wantLost)
			}
			if len(p.Unknown) != 0 {
				t.Errorf("%d allocs marked unknown, want none", len(p.Unknown))
			}
			places := map[int]string{}
			for _, a := range p.Place {
				places[a.Index] = a.PreviousAllocation
				if slices.Contains(tt.notOn, a.NodeID) {
					t.Errorf("alloc %s placed on %s, which takes no new work", a.ID, a.NodeID)
				}
			}
			if !mapsEqual(places, tt.wantPlace) {
				t.Errorf("placements (index → previous) = %v, want %v", places, tt.wantPlace)
			}
			// Applied, the plan keeps count live allocs and is stable.
			next := st.applyPlan(p)
			liveN := 0
			for _, a := range next.allocs {
				if live(a) {
					liveN++
				}
			}
			if liveN != tt.count {
				t.Errorf("%d live allocs after the plan, want count %d", liveN, tt.count)
			}
			again := mustCompute(t, next, eval(j), Options{NewID: seqIDs("again"), Now: 2_000})
			if len(again.Place) != 0 || len(again.Stop) != 0 {
				t.Errorf("second pass: place %d stop %d, want a stable plan", len(again.Place), len(again.Stop))
			}
		})
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
