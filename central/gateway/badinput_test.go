package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	allow "github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/tether-edge/tether/protocol"
)

// startUnlimitedBroker runs a broker without a maximum packet size, as an
// external broker may be configured: oversized messages then reach the
// gateway, which must refuse them itself.
func startUnlimitedBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(allow.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + ln.Addr().String()
}

// TestGatewayRefusesOversized: a message over protocol.MaxMessageSize is
// dropped and counted as too_large, 100 KiB of garbage as malformed, and a
// good hello still gets through afterwards.
func TestGatewayRefusesOversized(t *testing.T) {
	url := startUnlimitedBroker(t)
	got := make(chan Inbound, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{url}, Handle: func(m Inbound) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	agent := agentClient(t, url)
	topics := protocol.Topics{}

	huge := make([]byte, 2<<20)
	garbage := make([]byte, 100<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	// Subscriptions are made in the connect handler: publish until counted.
	eventually(t, 10*time.Second, func() error {
		d := g.Drops()
		if d["too_large"] >= 1 && d["malformed"] >= 1 {
			return nil
		}
		agent.Publish(topics.Hello("n1"), 1, false, huge).Wait()
		agent.Publish(topics.Up("n1"), 1, false, garbage).Wait()
		return fmt.Errorf("drops %v, want too_large and malformed", d)
	})
	hello, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: "n1", Name: "pi"})
	agent.Publish(topics.Hello("n1"), 1, false, hello).Wait()
	select {
	case m := <-got:
		if m.Kind != protocol.KindHello || m.NodeID != "n1" {
			t.Fatalf("got %+v, want the hello of n1", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no hello after the oversized message: the gateway stopped receiving")
	}
}

// TestGatewayRefusesOversizedPublish: a desired state too large for the
// broker is refused with ErrTooLarge and counted, instead of getting
// central's client cut off by the broker (and, since its session is
// persistent, cut off again on every reconnect when the message is resent).
func TestGatewayRefusesOversizedPublish(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	big := &protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 1, Allocs: []protocol.DesiredAlloc{{
		ID: "a1", Tasks: []protocol.Task{{Name: "t", Templates: []protocol.Template{{Data: strings.Repeat("x", 2<<20)}}}},
	}}}
	if err := g.PublishDesired("n1", big); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("PublishDesired of 2 MiB: %v, want ErrTooLarge", err)
	}
	if n := g.RefusedPublishes(); n != 1 {
		t.Fatalf("refused publishes = %d, want 1", n)
	}
	// Still connected, and what fits still goes out.
	if err := g.PublishDesired("n1", &protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 2}); err != nil {
		t.Fatal(err)
	}
	agent := agentClient(t, b.URL())
	got := make(chan uint64, 4)
	agent.Subscribe(protocol.Topics{}.Desired("n1"), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if protocol.Decode(m.Payload(), &d) == nil {
			got <- d.Index
		}
	}).Wait()
	select {
	case i := <-got:
		if i != 2 {
			t.Fatalf("retained desired index %d, want 2", i)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no desired state delivered after the refused one")
	}
	if !g.Connected() {
		t.Fatal("the gateway lost its broker connection")
	}
}
