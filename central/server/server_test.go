package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// minEventually is the shortest wait eventually allows: under -race on a
// loaded 2-core machine, conditions given 5 s took longer (a canary's
// health in TestDeploymentAPI). A condition that holds returns at once,
// so the floor costs nothing when the tests pass.
const minEventually = 30 * time.Second

// eventually polls f until it returns nil, for at least timeout (and at
// least minEventually), and fails t with f's last error.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	timeout = max(timeout, minEventually)
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testServer starts a dev-mode server with an embedded broker on random ports.
func testServer(t testing.TB, ttl time.Duration) *Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: ttl, HeartbeatGrace: -1, DevMode: true,
	}, logger, io.Discard)
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

// wireAgent speaks the agent's side of the protocol by hand, so these tests
// see exactly what central puts on the wire.
type wireAgent struct {
	t       *testing.T
	id      string
	c       paho.Client
	topics  protocol.Topics
	mu      sync.Mutex
	desired *protocol.Desired
	acked   uint64
	rehello bool
}

func newWireAgent(t *testing.T, s *Server, id string) *wireAgent {
	a := &wireAgent{t: t, id: id}
	a.c = paho.NewClient(paho.NewClientOptions().AddBroker(s.BrokerURLs()[0]).SetClientID("agent-" + id))
	if tok := a.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { a.c.Disconnect(0) })
	a.c.Subscribe(a.topics.Desired(id), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if err := protocol.Decode(m.Payload(), &d); err != nil {
			t.Errorf("central published a malformed desired state: %v", err)
			return
		}
		a.mu.Lock()
		a.desired = &d
		a.mu.Unlock()
	}).Wait()
	a.c.Subscribe(a.topics.Ack(id), 1, func(_ paho.Client, m paho.Message) {
		var ack protocol.Ack
		if protocol.Decode(m.Payload(), &ack) == nil {
			a.mu.Lock()
			a.acked = max(a.acked, ack.Seq)
			a.rehello = a.rehello || ack.Rehello
			a.mu.Unlock()
		}
	}).Wait()
	return a
}

func (a *wireAgent) publish(topic string, qos byte, msg any) {
	b, err := protocol.Encode(msg)
	if err != nil {
		a.t.Fatal(err)
	}
	a.c.Publish(topic, qos, false, b).Wait()
}

func (a *wireAgent) hello() {
	a.publish(a.topics.Hello(a.id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: a.id, Name: "node-" + a.id, Datacenter: "dc1",
		Drivers:    []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
	})
}

func (a *wireAgent) heartbeat(seq uint64) {
	a.publish(a.topics.Heartbeat(a.id), 0, &protocol.Heartbeat{V: protocol.Version, Seq: seq, Time: time.Now().UnixMilli()})
}

func (a *wireAgent) currentDesired() *protocol.Desired {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.desired
}

func testJob(count int) *jobspec.Job {
	j := &jobspec.Job{ID: "web", Name: "web", Type: "service", Datacenters: []string{"dc1"}, TaskGroups: []*jobspec.TaskGroup{{
		Name: "g", Count: count,
		Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"},
			Resources: &jobspec.Resources{CPU: 100, MemoryMB: 64}}},
	}}}
	j.Canonicalize()
	return j
}

func TestSubmitPlacesAndPublishesDesired(t *testing.T) {
	s := testServer(t, 10*time.Second)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 5*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready: %+v", n)
		}
		return nil
	})

	evalID, idx, err := s.SubmitJob(context.Background(), testJob(2))
	if err != nil || evalID == "" || idx == 0 {
		t.Fatalf("SubmitJob = %q %d %v", evalID, idx, err)
	}
	var d *protocol.Desired
	eventually(t, 5*time.Second, func() error {
		d = a.currentDesired()
		if d == nil || len(d.Allocs) != 2 {
			return fmt.Errorf("desired: %+v", d)
		}
		return nil
	})
	if d.Allocs[0].Tasks[0].Config["command"] != "/bin/true" || d.Allocs[0].Restart.Attempts == 0 {
		t.Fatalf("desired alloc lacks the task or restart policy: %+v", d.Allocs[0])
	}
	if e := s.store.EvalByID(evalID); e == nil || e.Status != structs.EvalComplete {
		t.Fatalf("eval: %+v", e)
	}

	// The agent reports the allocations running; central applies and acks.
	up := &protocol.Update{V: protocol.Version}
	for i, da := range d.Allocs {
		up.Allocs = append(up.Allocs, protocol.AllocUpdate{Seq: uint64(i + 1), AllocID: da.ID, ClientStatus: protocol.AllocRunning,
			Time: time.Now().UnixMilli(), TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning}}})
	}
	a.publish(a.topics.Up("n1"), 1, up)
	eventually(t, 5*time.Second, func() error {
		for _, al := range s.store.AllocsByJob("default", "web") {
			if al.ClientStatus != protocol.AllocRunning || al.TaskStates["t"] == nil {
				return fmt.Errorf("alloc %s is %s", al.ID, al.ClientStatus)
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.acked != 2 {
			return fmt.Errorf("acked %d, want 2", a.acked)
		}
		return nil
	})

	// Stopping the job empties the node's desired state.
	if _, _, err := s.StopJob(context.Background(), "default", "web", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if d := a.currentDesired(); len(d.Allocs) != 0 {
			return fmt.Errorf("desired still has %d allocs", len(d.Allocs))
		}
		return nil
	})
}

func TestMissedHeartbeatsMarkNodeDownAndAllocsLost(t *testing.T) {
	s := testServer(t, time.Second)
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
	eventually(t, 5*time.Second, func() error {
		if len(s.store.AllocsByJob("default", "web")) != 1 {
			return fmt.Errorf("not placed")
		}
		return nil
	})
	// No heartbeats: after the TTL the node is down and its alloc lost.
	eventually(t, 10*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n.Status != structs.NodeDown {
			return fmt.Errorf("node is %s", n.Status)
		}
		for _, al := range s.store.AllocsByJob("default", "web") {
			if al.ClientStatus != protocol.AllocLost {
				return fmt.Errorf("alloc is %s", al.ClientStatus)
			}
		}
		return nil
	})
	// Heartbeats again: the node is ready and the job placed anew.
	// Heartbeats again: central asks for a hello, and with it the node is
	// ready and the job placed anew.
	var seq uint64
	eventually(t, 5*time.Second, func() error {
		seq++
		a.heartbeat(seq)
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.rehello {
			return fmt.Errorf("central did not ask the returning node for a hello")
		}
		return nil
	})
	a.hello()
	eventually(t, 5*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n.Status != structs.NodeReady {
			return fmt.Errorf("node is %s after its hello", n.Status)
		}
		return nil
	})
	eventually(t, 5*time.Second, func() error {
		live := 0
		for _, al := range s.store.AllocsByJob("default", "web") {
			if !al.Terminal() {
				live++
			}
		}
		if live != 1 {
			return fmt.Errorf("%d live allocs, want 1", live)
		}
		return nil
	})
}

func TestUnknownNodeIsAskedToRegister(t *testing.T) {
	s := testServer(t, 10*time.Second)
	a := newWireAgent(t, s, "ghost")
	eventually(t, 5*time.Second, func() error {
		a.heartbeat(1)
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.rehello {
			return fmt.Errorf("no rehello yet")
		}
		return nil
	})
}
