package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// The pi4 tree's thermal zone reads 48312 m°C: heartbeats carry 483 and the
// hello's attributes say 48.3.
func TestHeartbeatCarriesSoCTemperature(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	a := startAgent(t, t.TempDir(), b.url(), fake.New())
	id := a.NodeID()
	eventually(t, 10*time.Second, func() error {
		hbs := b.received(topics.Heartbeat(id))
		if len(hbs) == 0 {
			return fmt.Errorf("no heartbeat")
		}
		var hb protocol.Heartbeat
		if err := protocol.Decode(hbs[len(hbs)-1], &hb); err != nil || hb.SoCTemp != 483 {
			return fmt.Errorf("heartbeat %+v %v", hb, err)
		}
		var hello protocol.Hello
		if err := protocol.Decode(b.received(topics.Hello(id))[0], &hello); err != nil || hello.Attributes["board.temperature"] != "48.3" {
			return fmt.Errorf("hello attributes %v %v", hello.Attributes, err)
		}
		return nil
	})
}
