package scheduler

import (
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

// TestUpdateStrategyChangeIsInPlace: a new version that changes only the
// update strategy (a service job registered before Nomad's default update
// strategy was applied, submitted again unchanged, now carries the
// default) updates its running allocs in place, as Nomad's tasksUpdated
// ignores the update block: nothing is stopped.
func TestUpdateStrategyChangeIsInPlace(t *testing.T) {
	j := job("web", "service", 2)
	st := newState()
	st.addNode(node("n1"), node("n2"))
	st.addAlloc(runningAlloc(j, "a1", "n1", 0), runningAlloc(j, "a2", "n2", 1))
	j2 := job("web", "service", 2)
	j2.Update = jobspec.DefaultUpdate()
	j2.TaskGroups[0].Update = jobspec.DefaultUpdate()
	j2.Version = 2
	st.addJob(j2)
	p := mustCompute(t, st, eval(j2), opts())
	if len(p.Stop) != 0 || len(p.Place) != 2 {
		t.Fatalf("stop %d, place %d; want both allocs updated in place", len(p.Stop), len(p.Place))
	}
	for _, a := range p.Place {
		if (a.ID != "a1" && a.ID != "a2") || a.JobVersion != 2 {
			t.Fatalf("placed %s at version %d; want a1 and a2 updated in place to version 2", a.ID, a.JobVersion)
		}
	}
}
