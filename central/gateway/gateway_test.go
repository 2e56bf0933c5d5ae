package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/protocol"
)

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func agentClient(t *testing.T, url string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-agent"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func TestGatewayDecodesAndDropsMalformed(t *testing.T) {
	b := startBroker(t)
	got := make(chan Inbound, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}, Handle: func(m Inbound) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	eventually(t, 5*time.Second, func() error {
		if !g.Connected() {
			return fmt.Errorf("not connected")
		}
		return nil
	})

	agent := agentClient(t, b.URL())
	topics := protocol.Topics{}
	hello, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: "n1", Name: "pi", Datacenter: "dc1"})
	bad := [][]byte{{0xff, 0x00}, []byte("not cbor"), {}}
	// Subscriptions are made in the connect handler; publish until the hello gets through.
	eventually(t, 5*time.Second, func() error {
		for _, p := range bad {
			agent.Publish(topics.Heartbeat("n1"), 1, false, p).Wait()
		}
		agent.Publish(topics.Up("n1"), 1, false, []byte{0xa1, 0x00, 0x02}).Wait() // V=2: wrong version
		agent.Publish(topics.Hello("n1"), 1, false, hello).Wait()
		select {
		case m := <-got:
			if m.Kind != protocol.KindHello || m.NodeID != "n1" || m.Hello.Datacenter != "dc1" {
				return fmt.Errorf("unexpected message %+v", m)
			}
			return nil
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("no hello yet")
		}
	})
	// Heartbeats are subscribed at QoS 0, so a broker may drop some; keep
	// sending garbage until enough has been counted.
	eventually(t, 5*time.Second, func() error {
		if c := g.Counters(); c.Malformed < 4 {
			for _, p := range bad {
				agent.Publish(topics.Up("n1"), 1, false, p).Wait()
			}
			return fmt.Errorf("malformed = %d, want >= 4", c.Malformed)
		}
		return nil
	})
	select {
	case m := <-got:
		if m.Kind != protocol.KindHello {
			t.Fatalf("a malformed message got through: %+v", m)
		}
	default:
	}

	// A hello whose body names another node is dropped too.
	spoof, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: "other"})
	before := g.Counters().Malformed
	agent.Publish(topics.Hello("n1"), 1, false, spoof).Wait()
	eventually(t, 5*time.Second, func() error {
		if g.Counters().Malformed <= before {
			return fmt.Errorf("spoofed hello not counted")
		}
		return nil
	})
}

func TestGatewayPublishesRetainedDesired(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	d := &protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 42}
	if err := g.PublishDesired("n1", d); err != nil {
		t.Fatal(err)
	}
	// A client that subscribes afterwards still gets it: it is retained.
	agent := agentClient(t, b.URL())
	got := make(chan *protocol.Desired, 1)
	eventually(t, 5*time.Second, func() error {
		agent.Subscribe(protocol.Topics{}.Desired("n1"), 1, func(_ paho.Client, m paho.Message) {
			var d protocol.Desired
			if protocol.Decode(m.Payload(), &d) == nil {
				select {
				case got <- &d:
				default:
				}
			}
		}).Wait()
		select {
		case d := <-got:
			if d.Index != 42 {
				return fmt.Errorf("index %d", d.Index)
			}
			return nil
		case <-time.After(200 * time.Millisecond):
			return fmt.Errorf("no retained desired")
		}
	})
}
