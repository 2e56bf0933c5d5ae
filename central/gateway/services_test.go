package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// retainedMsgs subscribes a fresh client to filter and returns what the
// broker holds retained under it. A marker published after subscribing
// arrives after the retained messages, so its arrival means all are in.
func retainedMsgs(t *testing.T, url, filter string) map[string][]byte {
	t.Helper()
	const marker = "tether/v1/zz-marker"
	var mu sync.Mutex
	got := map[string][]byte{}
	done := false
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("probe-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Topic() == marker {
			done = true
			return
		}
		got[m.Topic()] = append([]byte(nil), m.Payload()...)
	}).Wait()
	c.Publish(marker, 1, false, []byte("x")).Wait()
	eventually(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			return fmt.Errorf("marker not received")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	return got
}

func TestPublishAndClearService(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}, ServiceJSONMirror: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	set := &protocol.ServiceSet{V: protocol.Version, Name: "api", Index: 7, Instances: []protocol.ServiceInstance{
		{ID: "i1", Address: "10.0.0.1", Port: 8080, NodeID: "n1", AllocID: "a1", JobID: "web", Datacenter: "dc1", Healthy: true},
	}}
	if err := g.PublishService(set); err != nil {
		t.Fatal(err)
	}
	var got map[string][]byte
	eventually(t, 5*time.Second, func() error {
		if got = retainedMsgs(t, b.URL(), "tether/v1/#"); len(got) != 2 {
			return fmt.Errorf("%d retained messages, want 2", len(got))
		}
		return nil
	})
	var dec protocol.ServiceSet
	if err := protocol.Decode(got["tether/v1/svc/api"], &dec); err != nil || len(dec.Instances) != 1 || dec.Index != 7 {
		t.Fatalf("svc/api: %+v %v", dec, err)
	}
	var js map[string]any
	if err := json.Unmarshal(got["tether/v1/svc-json/api"], &js); err != nil {
		t.Fatal(err)
	}
	inst := js["instances"].([]any)[0].(map[string]any)
	if inst["node_id"] != "n1" || inst["healthy"] != true || inst["port"] != 8080.0 || inst["tags"] == nil {
		t.Errorf("JSON mirror instance = %v", inst)
	}

	if err := g.ClearService("api"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if n := len(retainedMsgs(t, b.URL(), "tether/v1/#")); n != 0 {
			return fmt.Errorf("%d retained left", n)
		}
		return nil
	})

	for _, bad := range []string{"a/b", "a+", ""} {
		if g.PublishService(&protocol.ServiceSet{Name: bad}) == nil || g.ClearService(bad) == nil {
			t.Errorf("service name %q accepted", bad)
		}
	}
}
