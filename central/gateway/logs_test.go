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
