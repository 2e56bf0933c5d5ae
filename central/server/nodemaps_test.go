package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// helloNamed registers a wire agent under the given node name.
func (a *wireAgent) helloNamed(name string) {
	a.publish(a.topics.Hello(a.id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: a.id, Name: name, Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
	})
}

// keepBeating heartbeats every period, as an agent does, until the
// returned function is called or the test ends.
func (a *wireAgent) keepBeating(t *testing.T, period time.Duration) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(done); <-stopped }) }
	t.Cleanup(stop)
	go func() {
		defer close(stopped)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			select {
			case <-done:
				return
			case <-tick.C:
				b, _ := protocol.Encode(&protocol.Heartbeat{V: protocol.Version, Seq: seq, Time: time.Now().UnixMilli()})
				a.c.Publish(a.topics.Heartbeat(a.id), 0, false, b)
			}
		}
	}()
	return stop
}

// TestDuplicateNodeNameRefused: a second agent that calls itself agentA
// while the first is alive is not registered, so a job constrained to that
// name (its env and secrets included) reaches only the first; once the
// first is down the name is free.
func TestDuplicateNodeNameRefused(t *testing.T) {
	s := testServer(t, 2*time.Second)
	n1 := newWireAgent(t, s, "n1")
	n1.helloNamed("agentA")
	waitReady(t, s, "n1")
	silence := n1.keepBeating(t, 500*time.Millisecond)
	n2 := newWireAgent(t, s, "n2")
	n2.helloNamed("agentA")
	eventually(t, 10*time.Second, func() error {
		if got := s.currentLeader().namesRefused.Load(); got == 0 {
			return fmt.Errorf("no hello refused yet")
		}
		return nil
	})
	if n := s.store.NodeByID("n2"); n != nil {
		t.Fatalf("the second agentA was registered: %+v", n)
	}

	j := testJob(1)
	j.TaskGroups[0].Tasks[0].Env = map[string]string{"SECRET": "for agentA only"}
	j.Constraints = []*jobspec.Constraint{{LTarget: "${node.unique.name}", Operand: "=", RTarget: "agentA"}}
	if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if d := n1.currentDesired(); d == nil || len(d.Allocs) != 1 {
			return fmt.Errorf("n1 has no desired state with the job")
		}
		return nil
	})
	if d := n2.currentDesired(); d != nil && len(d.Allocs) > 0 {
		t.Fatalf("the impostor received %d allocations", len(d.Allocs))
	}
	// The refused node's broker entry goes with the next sweep.
	eventually(t, 10*time.Second, func() error {
		if got := s.currentLeader().gw.NodeSites(); got != 1 {
			return fmt.Errorf("gateway remembers %d nodes, want 1", got)
		}
		return nil
	})

	// n1 falls silent and goes down: the name is free for n2.
	silence()
	eventually(t, 20*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n.Status != structs.NodeDown {
			return fmt.Errorf("n1 is %s", n.Status)
		}
		return nil
	})
	n2.helloNamed("agentA")
	waitReady(t, s, "n2")
}

// TestMadeUpNodeIDsLeaveLeaderMapsBounded floods the open (no -mqtt-auth)
// embedded broker with heartbeats and updates from 3,000 made-up node IDs,
// and hellos from 300 more that claim a registered node's name: the
// leader's maps keyed by node ID hold only registered nodes (rehello at
// most maxRehello, and empty once a TTL passed): heartbeats and updates
// of unknown nodes never enter them, and the impostors' hellos (which the
// gateway notes before the leader refuses them) are pruned.
func TestMadeUpNodeIDsLeaveLeaderMapsBounded(t *testing.T) {
	s := testServer(t, 2*time.Second)
	n1 := newWireAgent(t, s, "n1")
	n1.hello()
	waitReady(t, s, "n1")
	n1.keepBeating(t, 500*time.Millisecond) // n1 stays ready: its name stays taken
	l := s.currentLeader()
	before := l.gw.Counters().Received

	c := paho.NewClient(paho.NewClientOptions().AddBroker(s.BrokerURLs()[0]).SetClientID("flood"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	var topics protocol.Topics
	pub := func(topic string, msg any) {
		b, err := protocol.Encode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if tok := c.Publish(topic, 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	const ids, impostors = 3000, 300
	for i := range ids {
		id := fmt.Sprintf("fake-%05d", i)
		pub(topics.Heartbeat(id), &protocol.Heartbeat{V: protocol.Version, Seq: 1, Outbox: 3})
		pub(topics.Up(id), &protocol.Update{V: protocol.Version, Allocs: []protocol.AllocUpdate{{Seq: 5, AllocID: "a-" + id, ClientStatus: protocol.AllocRunning}}})
	}
	for i := range impostors {
		id := fmt.Sprintf("impostor-%03d", i)
		pub(topics.Hello(id), &protocol.Hello{V: protocol.Version, NodeID: id, Name: "node-n1", Datacenter: "dc1"})
	}
	eventually(t, 30*time.Second, func() error {
		if got := l.gw.Counters().Received - before; got < 2*ids+impostors {
			return fmt.Errorf("leader received %d of %d messages", got, 2*ids+impostors)
		}
		return nil
	})
	check := func(maxRehelloNow int) error {
		for m, n := range l.entrySizes() {
			limit := 1 // n1
			if m == "rehello" {
				limit = maxRehelloNow
			}
			if n > limit {
				return fmt.Errorf("map %s holds %d nodes, want at most %d", m, n, limit)
			}
		}
		return nil
	}
	// Within a TTL every entry of a made-up node is gone, except at most
	// maxRehello rehello entries; after one more TTL, those too.
	// (Generous deadlines: this failed once at 10 s under -race on a
	// machine with a load average of 17.)
	eventually(t, 30*time.Second, func() error { return check(maxRehello) })
	eventually(t, 30*time.Second, func() error { return check(0) })
	if nodes := len(s.store.Nodes()); nodes != 1 {
		t.Errorf("%d nodes registered, want only n1", nodes)
	}
	// Nothing of the heartbeats and updates got in to be pruned: only the
	// impostors' hellos were remembered by the gateway, then dropped.
	for m, c := range l.entries.pruned {
		want := uint64(0)
		if m == "gateway_sites" {
			want = impostors
		}
		if got := c.Load(); got != want {
			t.Errorf("%d entries pruned from %s, want %d", got, m, want)
		}
	}
}
