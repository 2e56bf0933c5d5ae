package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("AGENT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type message struct {
	topic   string
	payload []byte
}

// testBroker is a mochi-mqtt broker on a loopback port standing in for
// central's site broker; it records every message published on the prefix.
type testBroker struct {
	t    testing.TB
	addr string
	srv  *mqtt.Server
	once sync.Once

	mu   sync.Mutex // guards msgs
	msgs []message
}

func startBroker(t testing.TB, addr string) *testBroker {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: quietLogger()})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	b := &testBroker{t: t, addr: ln.Addr().String(), srv: srv}
	// Record before serving: an agent reconnecting to a restarted broker
	// says hello as soon as it is let in.
	err = srv.Subscribe(protocol.DefaultPrefix+"/#", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		b.mu.Lock()
		b.msgs = append(b.msgs, message{pk.TopicName, append([]byte(nil), pk.Payload...)})
		b.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	return b
}

func (b *testBroker) url() string { return "tcp://" + b.addr }

func (b *testBroker) close() { b.once.Do(func() { b.srv.Close() }) }

func (b *testBroker) publish(topic string, msg any, retain bool) {
	b.t.Helper()
	payload, ok := msg.([]byte)
	if !ok {
		var err error
		if payload, err = protocol.Encode(msg); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := b.srv.Publish(topic, payload, retain, 1); err != nil {
		b.t.Fatal(err)
	}
}

// receivedAs decodes every message the broker received on topic so far.
func receivedAs[T any](t testing.TB, b *testBroker, topic string) []T {
	t.Helper()
	var out []T
	for _, m := range b.received(topic) {
		var v T
		if err := protocol.Decode(m, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// received returns the payloads of messages on topic so far.
func (b *testBroker) received(topic string) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	for _, m := range b.msgs {
		if m.topic == topic {
			out = append(out, m.payload)
		}
	}
	return out
}

// updates decodes every Update message on the node's up topic and returns
// the alloc updates in order.
func (b *testBroker) updates(nodeID string) []protocol.AllocUpdate {
	var out []protocol.AllocUpdate
	for _, p := range b.received(topics.Up(nodeID)) {
		var u protocol.Update
		if err := protocol.Decode(p, &u); err != nil {
			b.t.Fatalf("bad update: %v", err)
		}
		out = append(out, u.Allocs...)
	}
	return out
}

var topics = protocol.Topics{}

// runningAgent is an Agent running in the background.
type runningAgent struct {
	*Agent
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
}

func (r *runningAgent) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatal(r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
}

func testConfig(dir, broker string) *config.Config {
	cfg := config.Default()
	cfg.Name = "test-node"
	cfg.DataDir = dir
	cfg.Brokers = []string{broker}
	cfg.Heartbeat = 50 * time.Millisecond
	cfg.Meta = map[string]string{"rack": "r1"}
	return &cfg
}

func startAgent(t testing.TB, dir, broker string, drv drivers.Driver) *runningAgent {
	t.Helper()
	a, err := New(Options{
		Config:          testConfig(dir, broker),
		Drivers:         []drivers.Driver{drv},
		Logger:          quietLogger(),
		Version:         "test",
		FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval:   50 * time.Millisecond,
		LookupEnv:       func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

func serviceAlloc(id string, cfg map[string]any) protocol.DesiredAlloc {
	return protocol.DesiredAlloc{
		ID: id, JobID: "web", TaskGroup: "g", JobType: "service", DesiredStatus: protocol.DesiredRun,
		Restart: protocol.RestartPolicy{Attempts: 100, IntervalMs: 600_000, DelayMs: 1, Mode: "fail"},
		Tasks:   []protocol.Task{{Name: "t", Driver: "fake", Config: cfg, KillTimeout: 1000}},
	}
}

func desired(nodeID string, index uint64, allocs ...protocol.DesiredAlloc) *protocol.Desired {
	return &protocol.Desired{V: protocol.Version, NodeID: nodeID, Index: index, Time: time.Now().UnixMilli(), Allocs: allocs}
}

// lastStatus is the latest client status the broker saw for alloc.
func lastStatus(ups []protocol.AllocUpdate, alloc string) string {
	s := ""
	for _, u := range ups {
		if u.AllocID == alloc {
			s = u.ClientStatus
		}
	}
	return s
}

func waitStatus(t *testing.T, b *testBroker, nodeID, alloc, status string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := lastStatus(b.updates(nodeID), alloc); got != status {
			return fmt.Errorf("alloc %s status %q, want %q", alloc, got, status)
		}
		return nil
	})
}

var _ = fake.New
