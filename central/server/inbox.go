package server

import (
	"sync"
	"sync/atomic"

	"github.com/tether-edge/tether/central/gateway"
)

// inboxLimit bounds the agent messages read from the brokers and not yet
// handled by the leader loop: a reconnect storm of 10,000 agents queues
// about 30,000 (a hello, an online marker and an update each).
const inboxLimit = 1 << 16

// inbox queues what the gateway receives for the leader loop. Putting a
// message in never blocks, so the MQTT client acknowledges each QoS 1
// message as soon as it is read, not once the loop has handled everything
// before it: a broker holds only so many unacknowledged messages for one
// client (8,192 for the embedded broker) and drops the rest, which lost
// thousands of hellos in a reconnect storm of 10,000 simulated agents
// while the loop waited on Raft (docs/scale.md).
type inbox struct {
	mu      sync.Mutex
	q       []gateway.Inbound
	head    int
	limit   int
	ready   chan struct{} // holds a token while q is not empty
	dropped atomic.Uint64 // refused because limit messages were waiting
	peak    atomic.Uint64 // most messages waiting at once
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, ready: make(chan struct{}, 1)}
}

// put queues m, or counts it dropped when limit messages already wait.
func (b *inbox) put(m gateway.Inbound) bool {
	b.mu.Lock()
	n := len(b.q) - b.head
	if n >= b.limit {
		b.mu.Unlock()
		b.dropped.Add(1)
		return false
	}
	b.q = append(b.q, m)
	if uint64(n+1) > b.peak.Load() {
		b.peak.Store(uint64(n + 1))
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns up to max waiting messages, oldest first, and keeps the
// ready token while more wait.
func (b *inbox) take(max int) []gateway.Inbound {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(max, len(b.q)-b.head)
	out := make([]gateway.Inbound, n)
	copy(out, b.q[b.head:b.head+n])
	clear(b.q[b.head : b.head+n]) // let the decoded messages go
	b.head += n
	switch {
	case b.head == len(b.q):
		b.q, b.head = b.q[:0], 0
		if cap(b.q) > 4096 { // give back what a storm grew
			b.q = nil
		}
	case b.head >= len(b.q)/2:
		b.q = append(b.q[:0], b.q[b.head:]...)
		b.head = 0
	}
	if len(b.q) > b.head {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	} else {
		select { // a put racing with this take may still leave a token: the loop then takes nothing
		case <-b.ready:
		default:
		}
	}
	return out
}

// len is the number of messages waiting.
func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) - b.head
}

// inboxFull logs a message the inbox had no room for: the first few and
// then every thousandth, so a flood cannot fill the disk. Nothing is lost
// for good: a heartbeat comes again each interval, and a node whose hello
// or update was dropped is asked for a new hello when its heartbeats show
// it not ready or its outbox stuck (loop.go).
func (l *leader) inboxFull(m gateway.Inbound) {
	if n := l.inbound.dropped.Load(); n <= 10 || n%1000 == 0 {
		l.s.log.Warn("leader inbox full; dropped agent message", "kind", m.Kind, "node", m.NodeID, "waiting", inboxLimit, "dropped_total", n)
	}
}
