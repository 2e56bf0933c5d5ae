package state

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// TestConcurrentReadsDuringApply runs readers (live and snapshot) while the
// writer applies plans; -race checks the threading rules.
func TestConcurrentReadsDuringApply(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), nil))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := h.store.Snapshot()
				n := len(snap.AllocsByNode("n1"))
				if idx := snap.Index(TableAllocs); idx == 0 && n != 0 {
					t.Errorf("snapshot has %d allocs at index 0", n)
					return
				}
				for _, a := range h.store.AllocsByJob("default", "web") {
					if a.Job == nil {
						t.Errorf("alloc %s without job", a.ID)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		h.mustApply(plan([]*structs.Allocation{testAlloc(fmt.Sprintf("a%03d", i), "n1", "web", 0)}, nil))
	}
	close(stop)
	wg.Wait()
	if got := len(h.store.AllocsByNode("n1")); got != 50 {
		t.Fatalf("allocs: %d", got)
	}
}

// TestSpecCompareIgnoresEncodingRoundTrip: a job applied from Go values
// (ints in Config) and the same job decoded from a raft entry (int64s)
// are the same spec.
func TestSpecCompareIgnoresEncodingRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.index = 1
	h.store.ApplyDirect(1, &Command{Ops: []Op{upsertJob(testJob("web", 1), nil)}})
	h.mustApply(upsertJob(testJob("web", 1), nil))
	if v := h.store.JobByID("default", "web").Version; v != 0 {
		t.Fatalf("round-tripped job counted as changed: version %d", v)
	}
}
