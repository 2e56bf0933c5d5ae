package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/protocol"
)

// TestReconnectedAfterBrokerRestart checks that Reconnected is called
// when a broker comes back after a restart (it lost its retained
// messages), and not for the first connection.
func TestReconnectedAfterBrokerRestart(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.Start("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(b.URL(), "tcp://")
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}, Logger: log, Reconnected: func(broker int) {
		if broker == 0 {
			calls.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n := calls.Load(); n != 0 {
		t.Fatalf("Reconnected called %d times for the first connection", n)
	}
	b.Close()
	eventually(t, 10*time.Second, func() error {
		if g.Connected() {
			return errors.New("gateway still connected to the stopped broker")
		}
		return nil
	})
	var b2 *broker.Broker
	eventually(t, 10*time.Second, func() error { // the port may linger a moment
		b2, err = broker.Start(addr, log)
		return err
	})
	defer b2.Close()
	eventually(t, 30*time.Second, func() error {
		if calls.Load() != 1 {
			return errors.New("Reconnected not called after the broker came back")
		}
		return nil
	})
}

// TestRetainedWithheldWhileBrokerDown checks that a desired state for a
// broker whose connection is down is not queued in the client (it would
// grow for as long as a site is away) but withheld, and that the broker's
// first connection then asks for everything again through Reconnected.
func TestRetainedWithheldWhileBrokerDown(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b1 := startBroker(t)
	l, err := net.Listen("tcp", "127.0.0.1:0") // a port for the second broker, not listening yet
	if err != nil {
		t.Fatal(err)
	}
	addr2 := l.Addr().String()
	l.Close()
	var calls atomic.Int32
	desired := &protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 7}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gw, err := Connect(ctx, Config{Brokers: []string{b1.URL(), "tcp://" + addr2}, ConnectWait: 100 * time.Millisecond, Logger: log,
		Reconnected: func(broker int) {
			if broker == 1 {
				calls.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.PublishDesired("n1", desired); err != nil { // n1 never heard: every broker
		t.Fatal(err)
	}
	if n := gw.Withheld(); n != 1 {
		t.Fatalf("withheld %d messages, want 1 (the desired state for the broker that is down)", n)
	}
	if got := retainedMsgs(t, b1.URL(), "tether/v1/#"); got["tether/v1/node/n1/desired"] == nil {
		t.Fatalf("the broker that is up has no desired state for n1: %v", got)
	}
	var b2 *broker.Broker
	eventually(t, 10*time.Second, func() error {
		b2, err = broker.Start(addr2, log)
		return err
	})
	defer b2.Close()
	eventually(t, 30*time.Second, func() error {
		if calls.Load() == 0 {
			return errors.New("Reconnected not called on the late first connection after a withheld message")
		}
		return nil
	})
	// What the leader does when called: publish everything again. (Not
	// from the callback itself: paho's resume of the session, which runs
	// beside the OnConnect handler, races with a publish made that early.)
	if err := gw.PublishDesired("n1", desired); err != nil {
		t.Fatalf("publish again: %v", err)
	}
	got := retainedMsgs(t, b2.URL(), "tether/v1/#")
	var d protocol.Desired
	if err := protocol.Decode(got["tether/v1/node/n1/desired"], &d); err != nil || d.Index != 7 {
		t.Fatalf("desired state on the late broker: %+v, %v", d, err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Reconnected called %d times, want 1", n)
	}
}

// TestDesiredAckedAfterBrokerAck checks that DesiredAcked reports each
// desired state once the broker has acknowledged it, in publishing order,
// and nothing for one withheld from a broker that is down.
func TestDesiredAckedAfterBrokerAck(t *testing.T) {
	b := startBroker(t)
	l, err := net.Listen("tcp", "127.0.0.1:0") // a second broker that never answers
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL(), "tcp://" + down}, ConnectWait: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DesiredAcked: func(node string, index uint64) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s@%d", node, index))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.mu.Lock()
	g.nodeSite["n1"], g.nodeSite["n2"] = 0, 1 // n1 heard through the broker that is up, n2 through the one that is down
	g.mu.Unlock()
	for i, node := range []string{"n1", "n2", "n1"} {
		if err := g.PublishDesired(node, &protocol.Desired{V: protocol.Version, NodeID: node, Index: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != "[n1@1 n1@3]" {
			return fmt.Errorf("acknowledged %v, want [n1@1 n1@3]", got)
		}
		return nil
	})
}
