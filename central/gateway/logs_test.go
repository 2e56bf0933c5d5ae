package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// A fake agent answers a logs request on the reply topic; the stream
// delivers the chunks, Close cancels the follow at the agent, and garbage
// on the reply topic is counted by reason.
func TestOpenLogsRoundTrip(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	tp := protocol.Topics{}
	agent := agentClient(t, b.URL())
	var cancelled atomic.Bool
	requests := make(chan protocol.LogsRequest, 4)
	tok := agent.Subscribe(tp.Logs("n1"), 1, func(_ paho.Client, m paho.Message) {
		var req protocol.LogsRequest
		if protocol.Decode(m.Payload(), &req) != nil {
			return
		}
		if req.Cancel {
			cancelled.Store(true)
			return
		}
		requests <- req
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("agent subscribe failed")
	}

	s, err := g.OpenLogs(ctx, "n1", protocol.LogsRequest{ID: "r1", AllocID: "a1", Task: "web", Follow: true, Lines: 5})
	if err != nil {
		t.Fatal(err)
	}
	var req protocol.LogsRequest
	select {
	case req = <-requests:
	case <-ctx.Done():
		t.Fatal("agent never got the request")
	}
	if req.V != protocol.Version || req.ID != "r1" || req.AllocID != "a1" || req.Task != "web" || !req.Follow || req.Lines != 5 {
		t.Fatalf("agent got %+v", req)
	}
	reply := tp.LogsReply("n1", "r1")
	for i, text := range []string{"hello\n", "world\n"} {
		p, _ := protocol.Encode(&protocol.LogsChunk{V: protocol.Version, ID: "r1", Seq: uint64(i), Data: []byte(text)})
		agent.Publish(reply, 1, false, p).Wait()
	}
	agent.Publish(reply, 1, false, []byte{0xff}).Wait() // garbage
	for i, want := range []string{"hello\n", "world\n"} {
		select {
		case c := <-s.C:
			if c.Seq != uint64(i) || string(c.Data) != want {
				t.Fatalf("chunk %d = %+v", i, c)
			}
		case <-ctx.Done():
			t.Fatalf("chunk %d never arrived", i)
		}
	}
	eventually(t, 5*time.Second, func() error {
		if d := g.Drops()["malformed"]; d != 1 {
			return fmt.Errorf("malformed drops = %d, want 1", d)
		}
		return nil
	})
	if err := s.Renew(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-requests:
		if r.ID != "r1" || r.Cancel {
			t.Fatalf("renewal = %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("renewal never arrived")
	}
	s.Close()
	eventually(t, 5*time.Second, func() error {
		if !cancelled.Load() {
			return fmt.Errorf("agent got no cancel")
		}
		return nil
	})
	if g.Connects() != 1 {
		t.Errorf("Connects = %d, want 1", g.Connects())
	}
}

// An OpenLogs whose subscribe wait fails (here: its context is already
// done) takes its subscription back: a chunk an agent then sends on that
// request's reply topic reaches no handler. Another stream opened after it
// is the positive control: its chunk, published after the first, arrives,
// and by then the first would have been received (one connection, in order).
func TestOpenLogsFailedSubscribeIsTakenBack(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	done, stop := context.WithCancel(ctx)
	stop()
	var failed string
	for i := 0; i < 20 && failed == ""; i++ {
		id := fmt.Sprintf("gone%d", i)
		s, err := g.OpenLogs(done, "n1", protocol.LogsRequest{ID: id, AllocID: "a1", Task: "web"})
		if err == nil {
			s.Close() // the subscribe beat the done context: try again
			continue
		}
		failed = id
	}
	if failed == "" {
		t.Fatal("OpenLogs with a done context never failed")
	}
	s, err := g.OpenLogs(ctx, "n1", protocol.LogsRequest{ID: "live", AllocID: "a1", Task: "web"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := g.Counters().Received

	tp := protocol.Topics{}
	agent := agentClient(t, b.URL())
	for _, id := range []string{failed, "live"} {
		p, _ := protocol.Encode(&protocol.LogsChunk{V: protocol.Version, ID: id, Data: []byte(id + "\n")})
		if tok := agent.Publish(tp.LogsReply("n1", id), 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	select {
	case c := <-s.C:
		if c.ID != "live" {
			t.Fatalf("live stream got %+v", c)
		}
	case <-ctx.Done():
		t.Fatal("the live stream's chunk never arrived")
	}
	if got := g.Counters().Received - before; got != 1 {
		t.Fatalf("gateway received %d messages, want 1: the failed OpenLogs's subscription to %s is still there", got, tp.LogsReply("n1", failed))
	}
}
