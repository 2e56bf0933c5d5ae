package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/protocol"
)

// refuseFirst lets everything through except the first n subscriptions to
// one filter, as a clustered broker does while it elects new leaders.
type refuseFirst struct {
	mqtt.HookBase
	filter string
	n      atomic.Int32
}

func (h *refuseFirst) ID() string { return "refuse-first" }

func (h *refuseFirst) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *refuseFirst) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *refuseFirst) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	return write || topic != h.filter || h.n.Add(-1) < 0
}

// TestGatewayAsksAgainForRefusedSubscriptions: the hello subscription is
// refused twice; the gateway asks again on the same connection and hears
// the node's hello.
func TestGatewayAsksAgainForRefusedSubscriptions(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
	topics := protocol.Topics{}
	hook := &refuseFirst{filter: topics.AllNodes(protocol.KindHello)}
	hook.n.Store(2)
	if err := srv.AddHook(hook, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	got := make(chan Inbound, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{"tcp://" + ln.Addr().String()}, Logger: log, Handle: func(m Inbound) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	hello, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: "n1", Name: "n1", Datacenter: "dc1"})
	eventually(t, 30*time.Second, func() error {
		if err := srv.Publish(topics.Hello("n1"), hello, false, 1); err != nil {
			return err
		}
		select {
		case m := <-got:
			if m.Kind == protocol.KindHello {
				return nil
			}
		case <-time.After(100 * time.Millisecond):
		}
		return fmt.Errorf("no hello yet (%d refusals)", g.RefusedSubscribes())
	})
	if n := g.RefusedSubscribes(); n != 2 {
		t.Fatalf("%d refusals counted, want 2", n)
	}
}
