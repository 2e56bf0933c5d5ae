package server

import (
	"errors"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

func TestDesiredSentMissed(t *testing.T) {
	d := newDesiredSent()
	t0 := time.Unix(1000, 0)
	wait := 10 * time.Second
	d.published("n1", 50, t0)
	for _, c := range []struct {
		applied uint64
		at      time.Duration
		want    bool
	}{
		{50, 20 * time.Second, false}, // has it
		{0, 5 * time.Second, false},   // the first one may still be on its way
		{49, 5 * time.Second, false},  // so may this one
		{49, 11 * time.Second, true},  // missed: send again
		{49, 15 * time.Second, false}, // just sent again
		{0, 22 * time.Second, false},  // never got any, but the second re-send waits twice as long
		{0, 32 * time.Second, true},   // now
		{0, 50 * time.Second, false},  // the third waits four times as long
		{0, 73 * time.Second, true},
		{50, 80 * time.Second, false}, // caught up: the waits start again
		{49, 91 * time.Second, true},
	} {
		if got := d.missed("n1", c.applied, t0.Add(c.at), wait); got != c.want {
			t.Errorf("applied %d at +%v: missed = %v, want %v", c.applied, c.at, got, c.want)
		}
	}
	if d.missed("n2", 1, t0.Add(time.Hour), wait) {
		t.Error("a node never published to counted as missed")
	}
	if n := d.resent.Load(); n != 4 {
		t.Errorf("resent = %d, want 4", n)
	}
	// The fleet's budget: resendsPerSecond a second.
	for i := range 20 {
		d.published(fmt.Sprint("b", i), 10, t0)
	}
	n := 0
	for i := range 20 {
		if d.missed(fmt.Sprint("b", i), 1, t0.Add(time.Hour), wait) {
			n++
		}
	}
	if n != resendsPerSecond {
		t.Errorf("%d re-sends in one second, want %d", n, resendsPerSecond)
	}
	if n := d.prune(func(id string) bool { return id != "n1" }); n != 1 || d.len() != 20 {
		t.Errorf("prune dropped %d, left %d", n, d.len())
	}
}

// TestMissedDesiredIsSentAgain checks, over the embedded broker, that a
// node whose heartbeats report an older desired state than the one
// central published (the broker lost it) is sent it again, and that a
// node that has it is not.
func TestMissedDesiredIsSentAgain(t *testing.T) {
	s := testServer(t, time.Second)
	a := newWireAgent(t, s, "n1")
	var got []uint64 // indexes of the desired states received, in order
	a.c.Subscribe(a.topics.Desired("n1"), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if protocol.Decode(m.Payload(), &d) == nil && d.Echo {
			a.mu.Lock()
			got = append(got, d.Index)
			a.mu.Unlock()
		}
	}).Wait()
	received := func() []uint64 {
		a.mu.Lock()
		defer a.mu.Unlock()
		return append([]uint64(nil), got...)
	}
	a.publish(a.topics.Hello("n1"), 1, &protocol.Hello{
		V: protocol.Version, NodeID: "n1", Name: "node-n1", Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"kernel.name": "linux", protocol.AttrEcho: "1"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
	})
	eventually(t, 10*time.Second, func() error {
		if len(received()) == 0 {
			return errors.New("no desired state with Echo")
		}
		return nil
	})
	index := received()[0]
	beat := func(seq, applied uint64) {
		a.publish(a.topics.Heartbeat("n1"), 0, &protocol.Heartbeat{V: protocol.Version, Seq: seq, Time: time.Now().UnixMilli(), Applied: applied})
	}
	// Holding it: beats for three TTLs bring nothing again.
	seq := uint64(0)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		seq++
		beat(seq, index)
		eventually(t, 5*time.Second, func() error { // one beat handled before the next
			if s.currentLeader().heartbeats.Load() < seq {
				return fmt.Errorf("heartbeat %d not handled", seq)
			}
			return nil
		})
	}
	if n := len(received()); n != 1 {
		t.Fatalf("a node holding its desired state was sent %d", n)
	}
	// Reporting an older one: sent again.
	eventually(t, 10*time.Second, func() error {
		seq++
		beat(seq, index-1)
		if n := len(received()); n < 2 {
			return fmt.Errorf("%d desired states received, want it again", n)
		}
		return nil
	})
	if n := s.currentLeader().sent.resent.Load(); n != 1 {
		t.Fatalf("resent = %d, want 1", n)
	}
	// A node whose heartbeats carry no Applied never applied a state
	// with Echo, though every one sent to it carried it: sent again too.
	b := newWireAgent(t, s, "n2")
	b.publish(b.topics.Hello("n2"), 1, &protocol.Hello{
		V: protocol.Version, NodeID: "n2", Name: "node-n2", Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"kernel.name": "linux", protocol.AttrEcho: "1"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
	})
	eventually(t, 10*time.Second, func() error {
		seq++
		b.publish(b.topics.Heartbeat("n2"), 0, &protocol.Heartbeat{V: protocol.Version, Seq: seq, Time: time.Now().UnixMilli()})
		if n := s.currentLeader().sent.resent.Load(); n != 2 {
			return fmt.Errorf("resent = %d, want 2", n)
		}
		return nil
	})
}
