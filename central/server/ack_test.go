package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/central/gateway"
)

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// An ack central cannot publish is logged with the node and the seq, not
// dropped: here the gateway's broker session has ended.
func TestAckPublishFailureIsLogged(t *testing.T) {
	b, err := broker.Start("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := gateway.Connect(ctx, gateway.Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := g.PublishAck("n1", 7); err == nil {
		t.Fatal("PublishAck succeeded after the gateway closed: the test needs a failing publish")
	}
	var logs lockedBuffer
	l := &leader{s: &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}, gw: g}
	l.ack("n1", 7)
	out := logs.String()
	if !strings.Contains(out, "acknowledging a node's updates") || !strings.Contains(out, "node=n1") || !strings.Contains(out, "seq=7") {
		t.Fatalf("log after a failed ack publish: %q, want a warning naming the node and the seq", out)
	}
}
