package gc

import (
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// TestFailedAllocWaitingForRescheduleStays: a failed service allocation
// that its policy will still reschedule is kept past eval_gc_threshold
// (even when forced), as Nomad keeps it; once replaced, stopped, or with
// rescheduling off or used up long ago, it goes.
func TestFailedAllocWaitingForRescheduleStays(t *testing.T) {
	web := job("web", "service", "running", false, 10*time.Hour)
	web.TaskGroups = []*jobspec.TaskGroup{{Name: "g"}, {Name: "off", Reschedule: &jobspec.ReschedulePolicy{}},
		{Name: "limited", Reschedule: &jobspec.ReschedulePolicy{Attempts: 1, Interval: time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"}}}
	mk := func(id, group string, f func(*structs.Allocation)) *structs.Allocation {
		a := alloc(id, "web", "n1", "failed", 5*time.Hour)
		a.TaskGroup = group
		if f != nil {
			f(a)
		}
		return a
	}
	src := &fake{jobs: []*jobspec.Job{web}, allocs: []*structs.Allocation{
		mk("waiting", "g", nil),
		mk("replaced", "g", func(a *structs.Allocation) { a.NextAllocation = "x" }),
		mk("stopped", "g", func(a *structs.Allocation) { a.DesiredStatus = "stop" }),
		mk("off", "off", nil),
		mk("limited-recent", "limited", func(a *structs.Allocation) {
			a.RescheduleTracker = []structs.RescheduleEvent{{RescheduleTime: ago(30 * time.Minute)}}
		}),
		mk("limited-old", "limited", func(a *structs.Allocation) {
			a.RescheduleTracker = []structs.RescheduleEvent{{RescheduleTime: ago(3 * time.Hour)}}
		}),
	}}
	for _, force := range []bool{false, true} {
		got := ids(Compute(src, now, th, force).Allocs)
		want := []string{"limited-old", "off", "replaced", "stopped"}
		if len(got) != len(want) {
			t.Fatalf("force=%v: collected %v, want %v", force, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("force=%v: collected %v, want %v", force, got, want)
			}
		}
	}
}
