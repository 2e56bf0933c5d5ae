package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// A hello sent while the state file cannot be read still carries the
// newest update sequence number the agent holds (from its allocations in
// memory), not 0: central acks by it, and a hello's seq must never go
// backwards.
func TestHelloSeqWhenStateFileUnreadable(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	b.publish(topics.Desired(id), desired(id, 1, serviceAlloc("a1", nil)), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	var highest uint64
	for _, u := range b.updates(id) {
		highest = max(highest, u.Seq)
	}
	if highest == 0 {
		t.Fatal("no update carried a sequence number")
	}

	// The state file goes away under the agent; a new broker session makes
	// it say hello again.
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	addr := b.addr
	b.close()
	// The agent waits a random time under a ceiling that doubles from 1 s
	// up to 30 s before each reconnect: under load the new broker can miss
	// the early attempts.
	b2 := startBroker(t, addr)
	var h protocol.Hello
	eventually(t, 60*time.Second, func() error {
		hellos := b2.received(topics.Hello(id))
		if len(hellos) == 0 {
			return fmt.Errorf("no hello after the reconnect")
		}
		return protocol.Decode(hellos[len(hellos)-1], &h)
	})
	if h.Seq != highest {
		t.Fatalf("hello seq = %d with the state file unreadable, want %d (the newest the agent holds)", h.Seq, highest)
	}
}
