package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/broker"
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
