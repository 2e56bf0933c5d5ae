package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/gateway"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// testServerWith starts a dev-mode server like testServer, with cfg changed by f.
func testServerWith(t *testing.T, f func(*Config)) *Server {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: 10 * time.Second, DevMode: true}
	f(&cfg)
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 10*time.Second, func() error {
		if s.currentLeader() == nil {
			return fmt.Errorf("not leader yet")
		}
		return nil
	})
	return s
}

// svcWatcher records the last payload seen on each service topic (an empty
// payload is a cleared retained message).
type svcWatcher struct {
	mu   sync.Mutex // guards last
	last map[string][]byte
}

func watchServices(t *testing.T, url string) *svcWatcher {
	w := &svcWatcher{last: map[string][]byte{}}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("svc-watch-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	for _, f := range []string{"tether/v1/svc/+", "tether/v1/svc-json/+"} {
		c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			w.mu.Lock()
			w.last[m.Topic()] = append([]byte{}, m.Payload()...)
			w.mu.Unlock()
		}).Wait()
	}
	return w
}

func (w *svcWatcher) get(topic string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.last[topic]
	return b, ok
}

// placeOne registers agent n1, submits a one-alloc job and returns the alloc.
func placeOne(t *testing.T, s *Server) (*wireAgent, protocol.DesiredAlloc) {
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 5*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready")
		}
		return nil
	})
	if _, _, err := s.SubmitJob(context.Background(), testJob(1)); err != nil {
		t.Fatal(err)
	}
	var d *protocol.Desired
	eventually(t, 5*time.Second, func() error {
		if d = a.currentDesired(); d == nil || len(d.Allocs) != 1 {
			return fmt.Errorf("desired: %+v", d)
		}
		return nil
	})
	return a, d.Allocs[0]
}

func (a *wireAgent) report(seq uint64, allocID, status string, svcs ...protocol.ServiceReg) {
	a.publish(a.topics.Up(a.id), 1, &protocol.Update{V: protocol.Version, Allocs: []protocol.AllocUpdate{{
		Seq: seq, AllocID: allocID, ClientStatus: status, Time: time.Now().UnixMilli(), Services: svcs,
	}}})
}

func TestServicesPublishedRetainedAndCleared(t *testing.T) {
	s := testServerWith(t, func(c *Config) { c.ServiceJSONMirror = true })
	w := watchServices(t, s.BrokerURLs()[0])
	a, da := placeOne(t, s)

	a.report(1, da.ID, protocol.AllocRunning,
		protocol.ServiceReg{Name: "api", Task: "t", PortLabel: "http", Address: "10.0.0.7", Port: 21000, Tags: []string{"v1"}, Healthy: true},
		protocol.ServiceReg{Name: "api", Task: "t", PortLabel: "admin", Address: "10.0.0.7", Port: 21001, Healthy: false, Output: "refused"})
	var set protocol.ServiceSet
	eventually(t, 5*time.Second, func() error {
		b, ok := w.get("tether/v1/svc/api")
		if !ok {
			return fmt.Errorf("nothing on svc/api yet")
		}
		if err := protocol.Decode(b, &set); err != nil {
			return err
		}
		if len(set.Instances) != 2 {
			return fmt.Errorf("%d instances", len(set.Instances))
		}
		return nil
	})
	in := set.Instances[1] // sorted by ID: ...-api-admin, ...-api-http
	if set.Name != "api" || set.Index == 0 || in.ID != structs.ServiceID(da.ID, "t", "api", "http") || in.NodeID != "n1" ||
		in.AllocID != da.ID || in.JobID != "web" || in.Datacenter != "dc1" || !in.Healthy || in.Port != 21000 {
		t.Fatalf("published set %+v", set)
	}
	if set.Instances[0].Healthy {
		t.Errorf("unhealthy instance published healthy: %+v", set.Instances[0])
	}
	// The JSON mirror carries the same, snake_case.
	eventually(t, 5*time.Second, func() error {
		b, ok := w.get("tether/v1/svc-json/api")
		if !ok {
			return fmt.Errorf("no JSON mirror")
		}
		var js gateway.ServiceSetJSON
		if err := json.Unmarshal(b, &js); err != nil {
			return err
		}
		if len(js.Instances) != 2 || js.Instances[1].NodeID != "n1" || js.Index != set.Index {
			return fmt.Errorf("JSON mirror %s", b)
		}
		return nil
	})
	if regs := s.store.ServiceByName("default", "api"); len(regs) != 2 || regs[0].Output != "refused" {
		t.Fatalf("stored: %+v", regs)
	}

	// The alloc completes: its instances go and the retained message is
	// cleared (subscribers see an empty payload).
	a.report(2, da.ID, protocol.AllocComplete)
	eventually(t, 5*time.Second, func() error {
		b, _ := w.get("tether/v1/svc/api")
		jb, _ := w.get("tether/v1/svc-json/api")
		if len(b) != 0 || len(jb) != 0 {
			return fmt.Errorf("svc/api still %d bytes, JSON %d bytes", len(b), len(jb))
		}
		return nil
	})
	if n := len(s.store.Services("")); n != 0 {
		t.Fatalf("%d instances left", n)
	}
	// A late subscriber gets nothing retained.
	late := watchServices(t, s.BrokerURLs()[0])
	a.publish("tether/v1/svc/zz-marker", 1, &protocol.Online{V: 1}) // arrives after any retained message
	eventually(t, 5*time.Second, func() error {
		if _, ok := late.get("tether/v1/svc/zz-marker"); !ok {
			return fmt.Errorf("marker not seen")
		}
		return nil
	})
	if b, ok := late.get("tether/v1/svc/api"); ok {
		t.Fatalf("late subscriber got a retained svc/api of %d bytes", len(b))
	}
}

func TestServicesRepublishedOnLeadership(t *testing.T) {
	s := testServerWith(t, func(*Config) {})
	a, da := placeOne(t, s)
	a.report(1, da.ID, protocol.AllocRunning, protocol.ServiceReg{Name: "db", Address: "10.0.0.8", Port: 5432, Healthy: true})
	eventually(t, 5*time.Second, func() error {
		if len(s.store.ServiceByName("", "db")) != 1 {
			return fmt.Errorf("not registered")
		}
		return nil
	})
	// Lose the retained message (as with a broker that lost its store),
	// then take up leadership again: it is published anew.
	l := s.currentLeader()
	if err := l.gw.ClearService("db"); err != nil {
		t.Fatal(err)
	}
	s.stopLeading()
	s.startLeading()
	w := watchServices(t, s.BrokerURLs()[0])
	eventually(t, 5*time.Second, func() error {
		b, ok := w.get("tether/v1/svc/db")
		var set protocol.ServiceSet
		if !ok || protocol.Decode(b, &set) != nil || len(set.Instances) != 1 {
			return fmt.Errorf("svc/db not republished (%d bytes)", len(b))
		}
		return nil
	})
}

func TestDeleteServiceThroughServer(t *testing.T) {
	s := testServerWith(t, func(*Config) {})
	a, da := placeOne(t, s)
	a.report(1, da.ID, protocol.AllocRunning, protocol.ServiceReg{Name: "db", Address: "10.0.0.8", Port: 5432, Healthy: true})
	id := structs.ServiceID(da.ID, "", "db", "")
	eventually(t, 5*time.Second, func() error {
		if len(s.store.ServiceByName("", "db")) != 1 {
			return fmt.Errorf("not registered")
		}
		return nil
	})
	if err := s.DeleteService(context.Background(), "default", "db", "nope"); err == nil {
		t.Error("deleting a missing instance succeeded")
	}
	if err := s.DeleteService(context.Background(), "default", "db", id); err != nil {
		t.Fatal(err)
	}
	if n := len(s.store.ServiceByName("", "db")); n != 0 {
		t.Fatalf("%d instances after delete", n)
	}
}
