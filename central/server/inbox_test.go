package server

import (
	"fmt"
	"testing"

	"github.com/tether-edge/tether/central/gateway"
)

func TestInboxKeepsOrderAndBound(t *testing.T) {
	b := newInbox(5)
	for i := range 7 {
		ok := b.put(gateway.Inbound{NodeID: fmt.Sprint(i)})
		if want := i < 5; ok != want {
			t.Fatalf("put %d = %v, want %v", i, ok, want)
		}
	}
	if b.dropped.Load() != 2 || b.peak.Load() != 5 || b.len() != 5 {
		t.Fatalf("dropped %d peak %d len %d, want 2 5 5", b.dropped.Load(), b.peak.Load(), b.len())
	}
	ids := func(ms []gateway.Inbound) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.NodeID)
		}
		return fmt.Sprint(out)
	}
	mustReady := func() {
		t.Helper()
		select {
		case <-b.ready:
		default:
			t.Fatalf("no ready token with %d messages waiting", b.len())
		}
	}
	mustReady()
	if got := ids(b.take(2)); got != "[0 1]" {
		t.Fatalf("first take %s, want [0 1]", got)
	}
	if !b.put(gateway.Inbound{NodeID: "late"}) { // room again after a take
		t.Fatal("put after take refused")
	}
	mustReady()
	if got := ids(b.take(100)); got != "[2 3 4 late]" {
		t.Fatalf("second take %s, want [2 3 4 late]", got)
	}
	if b.len() != 0 {
		t.Fatalf("len %d after taking everything", b.len())
	}
	select {
	case <-b.ready:
		t.Fatal("ready token left on an empty inbox")
	default:
	}
}
