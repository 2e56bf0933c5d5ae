package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// Stats reports a guest's linear memory while it grows it (read from
// another goroutine, race-free) and says CPU is not measured; after the
// guest exits it is an error.
func TestStatsMemoryWhileGrowing(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "tool"), "grow")
	cfg.MemoryMB = 16
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := h.(drivers.Statser)
	var peak uint64
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-h.Wait():
			break loop
		case <-deadline:
			t.Fatal("the guest did not run out of memory within 20s")
		case <-tick.C:
		}
		u, err := st.Stats()
		if err != nil {
			continue // it exited between the two checks
		}
		if !u.NoCPU || u.CPUSeconds != 0 {
			t.Fatalf("usage %+v: the wasm driver cannot measure CPU and must say so", u)
		}
		peak = max(peak, u.RSSBytes)
	}
	if peak < 1<<20 || peak > 16<<20 {
		t.Fatalf("peak memory %d bytes, want between 1 MiB and the 16 MiB limit", peak)
	}
	if _, err := st.Stats(); err == nil {
		t.Fatal("stats of an exited guest")
	}
}
