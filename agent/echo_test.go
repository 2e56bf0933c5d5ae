package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// TestHeartbeatReportsAppliedToACentralThatEchoes checks that the agent
// says in its hello that it can report the desired state it applied, and
// puts it in its heartbeats only once a desired state carried Echo (an
// older central refuses the field).
func TestHeartbeatReportsAppliedToACentralThatEchoes(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	a := startAgent(t, t.TempDir(), b.url(), fake.New())
	id := a.NodeID()
	heartbeats := func() []protocol.Heartbeat { return receivedAs[protocol.Heartbeat](t, b, topics.Heartbeat(id)) }
	b.publish(topics.Desired(id), desired(id, 5), true)
	eventually(t, 10*time.Second, func() error {
		hs := receivedAs[protocol.Hello](t, b, topics.Hello(id))
		if len(hs) == 0 {
			return fmt.Errorf("no hello")
		}
		if got := hs[0].Attributes[protocol.AttrEcho]; got != "1" {
			return fmt.Errorf("hello attribute %s = %q, want 1", protocol.AttrEcho, got)
		}
		if n := len(heartbeats()); a.Counters().Applied != 1 || n < 3 {
			return fmt.Errorf("%d desired states applied, %d heartbeats", a.Counters().Applied, n)
		}
		return nil
	})
	for _, hb := range heartbeats() {
		if hb.Applied != 0 {
			t.Fatalf("heartbeat reports Applied %d to a central that did not echo", hb.Applied)
		}
	}
	d := desired(id, 7)
	d.Echo = true
	b.publish(topics.Desired(id), d, true)
	eventually(t, 10*time.Second, func() error {
		hbs := heartbeats()
		if got := hbs[len(hbs)-1].Applied; got != 7 {
			return fmt.Errorf("last heartbeat reports Applied %d, want 7", got)
		}
		return nil
	})
}
