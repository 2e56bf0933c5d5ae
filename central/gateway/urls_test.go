package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/protocol"
)

func TestCheckURLs(t *testing.T) {
	for _, c := range []struct {
		in      string
		n       int
		wantErr string
	}{
		{"tcp://a:1883", 1, ""},
		{"tcp://a:1883, tcp://b:1883,tcp://c:1883", 3, ""},
		{"tcp://a:1883,,", 1, ""},
		{"", 0, "is empty"},
		{" , ", 0, "is empty"},
		{"tcp://a:1883,http://b:1883", 2, `scheme "http" not supported`},
		{"tcp://a:1883,tcp://", 2, "has no host"},
	} {
		if n := len(SplitURLs(c.in)); n != c.n {
			t.Errorf("SplitURLs(%q) = %d URLs, want %d", c.in, n, c.n)
		}
		err := CheckURLs(c.in)
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("CheckURLs(%q) = %v, want %q", c.in, err, c.wantErr)
		}
	}
}

// TestGatewayFailsOverBetweenNodes gives the gateway one broker written as
// two nodes' URLs (a clustered broker): it keeps one session, and when its
// node goes away it carries on through the other.
func TestGatewayFailsOverBetweenNodes(t *testing.T) {
	b1, err := broker.Start("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	b1Closed := false
	t.Cleanup(func() {
		if !b1Closed {
			b1.Close()
		}
	})
	b2 := startBroker(t)
	got := make(chan Inbound, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b1.URL() + "," + b2.URL()}, Handle: func(m Inbound) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if len(g.clients) != 1 {
		t.Fatalf("%d MQTT clients for one clustered broker, want 1", len(g.clients))
	}
	topics := protocol.Topics{}
	helloThrough := func(url, name string) {
		t.Helper()
		agent := agentClient(t, url)
		hello, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: name, Name: name, Datacenter: "dc1"})
		eventually(t, 20*time.Second, func() error {
			agent.Publish(topics.Hello(name), 1, false, hello).Wait()
			for {
				select {
				case m := <-got:
					if m.Kind == protocol.KindHello && m.NodeID == name {
						return nil
					}
				case <-time.After(200 * time.Millisecond):
					return fmt.Errorf("no hello from %s yet", name)
				}
			}
		})
	}
	helloThrough(b1.URL(), "n1")
	b1.Close()
	b1Closed = true
	helloThrough(b2.URL(), "n2")
}
