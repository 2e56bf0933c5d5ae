package broker

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestBrokerQueuesMoreThan8192ForABusySubscriber: central's one
// connection receives every agent's hello and updates, and acks each only
// once handled; when thousands of agents reconnect at once it has more
// than mochi's default 8,192 QoS 1 messages in flight, and mochi dropped
// the rest ("client store quota reached": measured with 10,000 simulated
// agents, 6,974 hellos lost after a broker restart). A subscriber that
// acks nothing while 9,000 messages are published must get all 9,000.
func TestBrokerQueuesMoreThan8192ForABusySubscriber(t *testing.T) {
	const n = 9000
	b, err := Start("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	client := func(id string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).
			SetAutoReconnect(false).SetOrderMatters(true).SetConnectTimeout(10 * time.Second).
			SetMessageChannelDepth(n))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c
	}
	release := make(chan struct{})
	var got atomic.Int64
	sub := client("busy-central")
	tok := sub.Subscribe("t/#", 1, func(paho.Client, paho.Message) {
		<-release // the first message holds every ack back
		got.Add(1)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := client("agents")
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = pub.Publish(fmt.Sprintf("t/%d", i), 1, false, []byte("hello"))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	// Every publish is acknowledged: the broker holds them for the
	// subscriber (or has dropped them).
	inflight := atomic.LoadInt64(&b.srv.Info.Inflight)
	dropped := atomic.LoadInt64(&b.srv.Info.InflightDropped)
	close(release)
	deadline := time.Now().Add(60 * time.Second)
	for got.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the busy subscriber got %d of %d messages (broker inflight %d, dropped %d)", got.Load(), n, inflight, dropped)
		}
		time.Sleep(50 * time.Millisecond) // polling the counter
	}
}
