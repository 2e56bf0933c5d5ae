package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// desiredSent remembers, for each node that reports which desired state it
// applied (Heartbeat.Applied), the index of the desired state last
// published to it and when its brokers acknowledged it, so that the loop
// can tell a node that never got it and publish it again. A retained QoS 1
// message is not lost by a broker that keeps its promises, but brokers do
// lose them: the embedded broker drops past its in-flight cap, and a NATS
// cluster under load delivered no retained desired state to 2 of 1,000
// simulated agents that subscribed while it was busy (docs/nats.md);
// before, such a node stayed on its old state until the next change.
//
// A broker that acknowledged a message may still take long to deliver it
// (a NATS cluster working through a backlog took minutes with 1,000
// simulated agents), and every re-send adds to that backlog. So each node
// waits twice as long before each further re-send (up to 64 TTLs), and
// the fleet gets at most resendsPerSecond re-sends a second.
type desiredSent struct {
	mu     sync.Mutex
	m      map[string]sentDesired
	second time.Time     // the second the budget below is for
	spent  int           // re-sends in that second
	resent atomic.Uint64 // desired states published again for a node that missed one
}

// resendsPerSecond bounds the re-sends of the whole fleet.
const resendsPerSecond = 10

type sentDesired struct {
	index  uint64
	at     time.Time // last acknowledged by the brokers
	resent time.Time // last published again because missed
	misses int       // re-sends since the node last caught up
}

func newDesiredSent() *desiredSent { return &desiredSent{m: map[string]sentDesired{}} }

// published notes that the brokers acknowledged the desired state of index
// for node id (gateway.Config.DesiredAcked).
func (d *desiredSent) published(id string, index uint64, at time.Time) {
	d.mu.Lock()
	e := d.m[id]
	e.index, e.at = index, at
	d.m[id] = e
	d.mu.Unlock()
}

// missed reports whether a node whose heartbeat says it applied the
// desired state of index applied missed the last one published to it:
// that one is newer and went out more than wait ago (time enough to
// arrive), and none was published again for it within wait. A true answer
// counts as a re-send.
//
// Only nodes whose hello carried AttrEcho have an entry. Such an agent
// leaves Applied out (0) until it has applied a desired state carrying
// Echo, which every state this central sends it carries: 0 a TTL after one
// was published means it got none, the case seen with NATS.
func (d *desiredSent) missed(id string, applied uint64, now time.Time, wait time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[id]
	if !ok {
		return false
	}
	if applied >= e.index {
		if e.misses > 0 {
			e.misses = 0
			d.m[id] = e
		}
		return false
	}
	backoff := wait << min(e.misses, 6)
	if now.Sub(e.at) < wait || now.Sub(e.resent) < backoff {
		return false
	}
	if sec := now.Truncate(time.Second); !sec.Equal(d.second) {
		d.second, d.spent = sec, 0
	}
	if d.spent >= resendsPerSecond {
		return false // a later heartbeat asks again
	}
	d.spent++
	e.resent = now
	e.misses++
	d.m[id] = e
	d.resent.Add(1)
	return true
}

// prune drops the nodes for which keep is false and returns how many.
func (d *desiredSent) prune(keep func(string) bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id := range d.m {
		if !keep(id) {
			delete(d.m, id)
			n++
		}
	}
	return n
}

func (d *desiredSent) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

// takesEcho reports whether a node's agent understands Desired.Echo.
func takesEcho(n *structs.Node) bool {
	return n != nil && n.Attributes[protocol.AttrEcho] == "1"
}
