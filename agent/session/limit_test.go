package session

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/protocol"
)

// TestSessionRefusesOversized: a message over the broker's packet limit is
// refused and counted, and the connection stays up (the broker would have
// cut it off).
func TestSessionRefusesOversized(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.Start("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	events := make(chan Event, 16)
	s := New(Options{Brokers: []string{b.URL()}, ClientID: "limit-test", Logger: log}, events)
	s.Connect()
	defer s.Close(0)
	select {
	case ev := <-events:
		if ev.Kind != Connected {
			t.Fatalf("first event %+v, want Connected", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not connected")
	}
	topic := protocol.Topics{}.Hello("n1")
	if err := s.PublishWait(topic, 1, false, make([]byte, protocol.MaxMessageSize), 5*time.Second); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("PublishWait of MaxMessageSize bytes: %v, want ErrTooLarge", err)
	}
	s.Publish(topic, 1, false, make([]byte, 2<<20))
	if n := s.RefusedTooLarge(); n != 2 {
		t.Fatalf("refused = %d, want 2", n)
	}
	if err := s.PublishWait(topic, 1, false, make([]byte, 512<<10), 5*time.Second); err != nil {
		t.Fatalf("a 512 KiB message: %v", err)
	}
	if !s.Connected() || b.Counters().TooLarge != 0 {
		t.Fatalf("connected %v, broker cut off %d clients", s.Connected(), b.Counters().TooLarge)
	}
}
