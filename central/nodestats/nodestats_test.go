package nodestats

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/tether-edge/tether/protocol"
)

func TestSampleIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(Sample{}); n > 32 {
		t.Fatalf("a sample is %d bytes, want <= 32 (10,000 nodes × 60 samples must stay small)", n)
	}
}

func TestOnePerMinuteOldestFirst(t *testing.T) {
	var h History
	t0 := time.Unix(1_900_000_000, 0).Truncate(time.Minute)
	// Three heartbeats in the first minute: the last one stays.
	for i, cpu := range []int{100, 200, 300} {
		h.Record("n1", t0.Add(time.Duration(i)*15*time.Second), &protocol.Heartbeat{CPU: cpu})
	}
	got := h.Samples("n1", t0.Add(time.Minute))
	if len(got) != 1 || got[0].CPU != 300 || got[0].Unix != uint32(t0.Add(30*time.Second).Unix()) {
		t.Fatalf("one minute of heartbeats: %+v, want one sample with the last one's CPU", got)
	}
	// Two hours, one heartbeat a minute: the ring keeps the last 60.
	for m := 1; m < 120; m++ {
		h.Record("n1", t0.Add(time.Duration(m)*time.Minute), &protocol.Heartbeat{CPU: m})
	}
	now := t0.Add(119*time.Minute + time.Second)
	got = h.Samples("n1", now)
	if len(got) != Size || got[0].CPU != 60 || got[Size-1].CPU != 119 {
		t.Fatalf("after two hours: %d samples, first CPU %d, last %d; want %d from 60 to 119", len(got), got[0].CPU, got[len(got)-1].CPU, Size)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Unix <= got[i-1].Unix {
			t.Fatalf("samples not oldest first at %d: %+v", i, got)
		}
	}
	// A node that went silent: what is older than an hour is not shown.
	if got := h.Samples("n1", now.Add(30*time.Minute)); len(got) != 30 {
		t.Fatalf("30 minutes after the last heartbeat: %d samples, want 30", len(got))
	}
	if got := h.Samples("n1", now.Add(2*time.Hour)); len(got) != 0 {
		t.Fatalf("two hours after the last heartbeat: %d samples, want 0", len(got))
	}
	if h.Samples("other", now) != nil {
		t.Fatal("a node without heartbeats has samples")
	}
	if n := h.Prune(func(id string) bool { return id != "n1" }); n != 1 || h.Len() != 0 {
		t.Fatalf("prune dropped %d, %d left", n, h.Len())
	}
}

// Values off the network are clamped, never wrapped.
func TestFromHeartbeatClamps(t *testing.T) {
	at := time.Unix(1_900_000_000, 0)
	s := FromHeartbeat(at, &protocol.Heartbeat{CPU: 5000, Load1: -3, MemUsedMiB: 1 << 40, DiskUsed: math.MaxUint64, SoCTemp: math.MinInt32})
	if s.CPU != 1000 || s.Load1 != 0 || s.MemUsedMiB != math.MaxUint32 || s.DiskUsedMiB != math.MaxUint32 || s.Temp != math.MinInt16+1 {
		t.Fatalf("clamped: %+v", s)
	}
	if s := FromHeartbeat(at, &protocol.Heartbeat{CPU: 125, Load1: 42, MemUsedMiB: 300, DiskUsed: 5 << 30, DiskAvail: 1 << 30, SoCTemp: 483}); s != (Sample{Unix: uint32(at.Unix()), CPU: 125, Load1: 42, MemUsedMiB: 300, DiskUsedMiB: 5 << 10, DiskAvailMiB: 1 << 10, Temp: 483}) {
		t.Fatalf("converted: %+v", s)
	}
	if s := FromHeartbeat(at, &protocol.Heartbeat{}); s.Temp != NoTemp {
		t.Fatalf("no temperature: %+v", s)
	}
}
