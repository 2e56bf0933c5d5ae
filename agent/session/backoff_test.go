package session

import (
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// TestBackoffCeilingDoublesAndWaitIsDrawnUnderIt: each wait is the random
// source's draw under a ceiling of 1, 2, 4, 8, 16 s, then 30 s for good.
func TestBackoffCeilingDoublesAndWaitIsDrawnUnderIt(t *testing.T) {
	var asked []time.Duration
	b := newBackoff(time.Second, 30*time.Second, func(n int64) int64 {
		asked = append(asked, time.Duration(n))
		return n / 4
	})
	now := time.Unix(1000, 0)
	var waits []time.Duration
	for range 7 {
		waits = append(waits, b.next(now))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	if len(asked) != len(want) {
		t.Fatalf("the random source was asked %d times for 7 waits (ceilings %v): the waits are not drawn", len(asked), asked)
	}
	for i, c := range want {
		c *= time.Second
		if asked[i] != c || waits[i] != c/4 {
			t.Fatalf("attempt %d: ceiling %v wait %v, want ceiling %v wait %v (all: %v)", i+1, asked[i], waits[i], c, c/4, asked)
		}
	}
}

// TestBackoffSpreadsAgentsThatLostTheSameBroker: 1,000 agents that lost
// their broker at the same instant must not try again at the same
// instants. With a seeded source per agent (deterministic), no 500 ms
// window holds more than a tenth of the 5th attempts (uniform: 1/32 of
// them); without jitter all 1,000 would land in one.
func TestBackoffSpreadsAgentsThatLostTheSameBroker(t *testing.T) {
	const agents, window = 1000, 500 * time.Millisecond
	buckets := map[time.Duration]int{}
	now := time.Unix(1000, 0)
	for i := range agents {
		r := rand.New(rand.NewPCG(42, uint64(i)))
		b := newBackoff(time.Second, 30*time.Second, r.Int64N)
		b.connected(now.Add(-time.Hour))
		var at time.Duration // since the broker went away
		for range 5 {
			at += b.next(now.Add(at))
		}
		buckets[at/window]++
	}
	for w, n := range buckets {
		if n > agents/10 {
			t.Fatalf("%d of %d agents make their 5th attempt within the same %v (at %v): the waits are not spread", n, agents, window, w*window)
		}
	}
	if len(buckets) < 20 {
		t.Fatalf("5th attempts fall in only %d windows of %v", len(buckets), window)
	}
}

// TestBackoffResetsAfterAStableConnection: a connection that lasted at
// least the longest wait starts the next outage at 1 s again; one dropped
// at once keeps doubling.
func TestBackoffResetsAfterAStableConnection(t *testing.T) {
	var last int64
	b := newBackoff(time.Second, 30*time.Second, func(n int64) int64 { last = n; return 0 })
	now := time.Unix(1000, 0)
	b.next(now)
	b.next(now)
	b.connected(now)
	b.next(now.Add(time.Second)) // dropped at once
	if time.Duration(last) != 4*time.Second {
		t.Fatalf("ceiling after a connection of 1 s: %v, want 4s (still doubling)", time.Duration(last))
	}
	b.connected(now.Add(2 * time.Second))
	b.next(now.Add(32 * time.Second))
	if time.Duration(last) != time.Second {
		t.Fatalf("ceiling after a connection of 30 s: %v, want 1s (a new outage)", time.Duration(last))
	}
}

// TestSessionReconnectWaitsTheJitteredBackoff: a real broker drops the
// session's connection; the session reconnects after a wait drawn from its
// backoff (the random source is asked with the first ceiling, 1 s).
func TestSessionReconnectWaitsTheJitteredBackoff(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	var mu sync.Mutex
	var asked []time.Duration
	randN := func(n int64) int64 {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, time.Duration(n))
		return n / 10
	}
	events := make(chan Event, 16)
	s := New(Options{Brokers: []string{"tcp://" + ln.Addr().String()}, ClientID: "backoff-test", Logger: log, randN: randN}, events)
	s.Connect()
	defer s.Close(0)
	waitFor := func(k Kind) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Kind == k {
					return
				}
			case <-deadline:
				t.Fatalf("no event of kind %d within 30s", k)
			}
		}
	}
	waitFor(Connected)
	cl, ok := srv.Clients.Get("backoff-test")
	if !ok {
		t.Fatal("the broker does not know the session's client")
	}
	cl.Stop(errors.New("dropped by the test"))
	waitFor(Lost)
	waitFor(Connected)
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[0] != time.Second {
		t.Fatalf("reconnect asked the backoff's random source for %v, want a first ceiling of 1s", asked)
	}
}
