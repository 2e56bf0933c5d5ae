package session

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
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

// TestSessionAsksAgainForRefusedSubscriptions: a subscription the broker
// refuses is asked for again on the same connection until it is granted,
// and its messages then arrive.
func TestSessionAsksAgainForRefusedSubscriptions(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
	hook := &refuseFirst{filter: "t/desired"}
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

	events := make(chan Event, 16)
	s := New(Options{Brokers: []string{"tcp://" + ln.Addr().String()}, ClientID: "sub-test", Logger: log, MaxReconnect: 2 * time.Second}, events)
	s.Connect()
	defer s.Close(0)
	deadline := time.After(30 * time.Second)
	for connected := false; !connected; {
		select {
		case ev := <-events:
			connected = ev.Kind == Connected
		case <-deadline:
			t.Fatal("not connected")
		}
	}
	s.Subscribe(map[string]byte{"t/desired": 1, "t/ack": 1})
	for {
		if err := srv.Publish("t/desired", []byte("d"), false, 1); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-events:
			if ev.Kind == Message && ev.Topic == "t/desired" {
				if n := s.RefusedSubscribes(); n != 2 {
					t.Fatalf("%d refusals counted, want 2", n)
				}
				return
			}
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no message on a filter refused twice (%d refusals seen)", s.RefusedSubscribes())
		}
	}
}
