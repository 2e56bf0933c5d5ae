package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/state"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func TestHelloHeartbeatOnlineAndBatchLifecycle(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()

	var hello protocol.Hello
	eventually(t, 10*time.Second, func() error {
		h := b.received(topics.Hello(id))
		if len(h) == 0 {
			return fmt.Errorf("no hello")
		}
		return protocol.Decode(h[0], &hello)
	})
	if hello.NodeID != id || hello.Name != "test-node" || hello.Datacenter != "dc1" || hello.Boot == 0 || hello.Version != "test" {
		t.Fatalf("hello %+v", hello)
	}
	if hello.Attributes["board.model"] != "Raspberry Pi 4 Model B Rev 1.4" || hello.Attributes["driver.fake"] != "1" ||
		hello.Meta["rack"] != "r1" || !slices.Equal(hello.Drivers, []string{"fake"}) || hello.Resources.CPU != 7200 {
		t.Fatalf("hello fingerprint %+v", hello)
	}
	eventually(t, 10*time.Second, func() error {
		on := b.received(topics.Online(id))
		if len(on) == 0 {
			return fmt.Errorf("no online marker")
		}
		var o protocol.Online
		if err := protocol.Decode(on[len(on)-1], &o); err != nil || !o.Online {
			return fmt.Errorf("online %+v %v", o, err)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		hbs := b.received(topics.Heartbeat(id))
		if len(hbs) < 2 {
			return fmt.Errorf("%d heartbeats", len(hbs))
		}
		var hb protocol.Heartbeat
		if err := protocol.Decode(hbs[1], &hb); err != nil || hb.Seq != 2 || hb.Boot != hello.Boot {
			return fmt.Errorf("heartbeat %+v %v", hb, err)
		}
		if len(hbs[1]) > 64 {
			return fmt.Errorf("heartbeat is %d bytes", len(hbs[1]))
		}
		return nil
	})

	batch := serviceAlloc("a1", map[string]any{"exit_after": "100ms"})
	batch.JobType = "batch"
	b.publish(topics.Desired(id), desired(id, 7, batch), true)
	waitStatus(t, b, id, "a1", protocol.AllocComplete)
	var seen []string
	for _, u := range b.updates(id) {
		if len(seen) == 0 || seen[len(seen)-1] != u.ClientStatus {
			seen = append(seen, u.ClientStatus)
		}
	}
	if !slices.Equal(seen, []string{"pending", "running", "complete"}) {
		t.Fatalf("statuses %v", seen)
	}
	ups := b.updates(id)
	for i := 1; i < len(ups); i++ {
		if ups[i].Seq <= ups[i-1].Seq {
			t.Fatalf("seq not increasing: %d then %d", ups[i-1].Seq, ups[i].Seq)
		}
	}
	if a.store.OutboxLen() == 0 {
		t.Fatal("outbox empty before any ack")
	}
	b.publish(topics.Ack(id), &protocol.Ack{V: protocol.Version, Seq: ups[len(ups)-1].Seq}, false)
	// The counter is bumped just after the outbox entries are deleted:
	// wait for both.
	eventually(t, 5*time.Second, func() error {
		if n := a.store.OutboxLen(); n != 0 {
			return fmt.Errorf("outbox has %d entries after ack", n)
		}
		if c := a.Counters(); c.Acked == 0 || c.Applied != 1 {
			return fmt.Errorf("counters %+v", c)
		}
		return nil
	})
}

func TestMalformedAndStaleDesired(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	eventually(t, 10*time.Second, func() error {
		if len(b.received(topics.Hello(id))) == 0 {
			return fmt.Errorf("no hello")
		}
		return nil
	})
	b.publish(topics.Desired(id), []byte("\xff\x00not cbor"), false)
	b.publish(topics.Ack(id), []byte{0xa1, 0x00}, false) // truncated map
	wrongVersion := desired(id, 1)
	wrongVersion.V = 99
	b.publish(topics.Desired(id), wrongVersion, false)
	b.publish(topics.Desired(id), desired("other-node", 1), false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.Malformed != 4 {
			return fmt.Errorf("malformed %d, want 4", c.Malformed)
		}
		return nil
	})

	b.publish(topics.Desired(id), desired(id, 10, serviceAlloc("new", nil)), true)
	waitStatus(t, b, id, "new", protocol.AllocRunning)
	b.publish(topics.Desired(id), desired(id, 5, serviceAlloc("old", nil)), false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.Stale != 1 {
			return fmt.Errorf("stale %d, want 1", c.Stale)
		}
		return nil
	})
	if drv.Starts("old/t") != 0 || drv.Task("new/t").Exited() {
		t.Fatal("stale desired state was applied")
	}
	// The same desired again changes nothing.
	b.publish(topics.Desired(id), desired(id, 10, serviceAlloc("new", nil)), true)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.Applied != 2 {
			return fmt.Errorf("applied %d", c.Applied)
		}
		return nil
	})
	if drv.Starts("new/t") != 1 {
		t.Fatalf("re-sent desired restarted the task: %d starts", drv.Starts("new/t"))
	}
}

func TestStopThenRemove(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	al := serviceAlloc("a1", nil)
	al.Tasks[0].KillSignal = "SIGINT"
	b.publish(topics.Desired(id), desired(id, 1, al), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	al.DesiredStatus = protocol.DesiredStop
	b.publish(topics.Desired(id), desired(id, 2, al), true)
	waitStatus(t, b, id, "a1", protocol.AllocComplete)
	if sig := drv.Task("a1/t").Signals(); !slices.Equal(sig, []string{"SIGINT"}) {
		t.Fatalf("signals %v", sig)
	}
	b.publish(topics.Desired(id), desired(id, 3), true)
	eventually(t, 5*time.Second, func() error {
		recs, err := a.store.Allocs()
		if err != nil || len(recs) != 0 {
			return fmt.Errorf("records %d %v", len(recs), err)
		}
		return nil
	})
	// Removing a running alloc from the desired set stops it.
	b.publish(topics.Desired(id), desired(id, 4, serviceAlloc("a2", nil)), true)
	waitStatus(t, b, id, "a2", protocol.AllocRunning)
	b.publish(topics.Desired(id), desired(id, 5), true)
	waitStatus(t, b, id, "a2", protocol.AllocComplete)
	if !drv.Task("a2/t").Exited() {
		t.Fatal("removed alloc still running")
	}
}

func TestOutboxCompactedWhileBrokerDown(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	b.publish(topics.Desired(id), desired(id, 1, serviceAlloc("a1", nil)), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	addr := b.addr
	b.close()

	// The task exits 20 times while the broker is down; the agent restarts
	// it each time (local restart policy still applies) and records each
	// change, but keeps one outbox entry for the alloc.
	for i := 1; i <= 20; i++ {
		starts := drv.Starts("a1/t")
		drv.Task("a1/t").Exit(1)
		eventually(t, 5*time.Second, func() error {
			if drv.Starts("a1/t") != starts+1 || drv.Task("a1/t").Exited() {
				return fmt.Errorf("not restarted yet")
			}
			return nil
		})
	}
	var seq uint64
	eventually(t, 5*time.Second, func() error {
		recs, _ := a.store.Allocs()
		if len(recs) != 1 || recs[0].Client.ClientStatus != protocol.AllocRunning || recs[0].Client.TaskStates["t"].Restarts != 20 {
			return fmt.Errorf("records %+v", recs)
		}
		seq = recs[0].Client.Seq
		return nil
	})
	if n := a.store.OutboxLen(); n != 1 {
		t.Fatalf("outbox has %d entries, want 1 (compacted)", n)
	}

	// The agent waits a random time under a ceiling that doubles from 1 s
	// up to 30 s before each reconnect: under load the new broker can miss
	// the early attempts.
	b2 := startBroker(t, addr)
	eventually(t, 60*time.Second, func() error {
		ups := b2.updates(id)
		if len(ups) == 0 {
			return fmt.Errorf("no update after reconnect")
		}
		if ups[0].Seq != seq || ups[0].TaskStates["t"].Restarts != 20 {
			return fmt.Errorf("first update after reconnect: seq %d restarts %d, want seq %d", ups[0].Seq, ups[0].TaskStates["t"].Restarts, seq)
		}
		return nil
	})
	if got := len(b2.received(topics.Up(id))); got != 1 {
		t.Fatalf("%d up messages after reconnect, want 1", got)
	}
	var hello protocol.Hello
	if err := protocol.Decode(b2.received(topics.Hello(id))[0], &hello); err != nil || len(hello.Allocs) != 1 || hello.Allocs[0].Seq != seq {
		t.Fatalf("hello after reconnect: %+v %v", hello.Allocs, err)
	}
	b2.publish(topics.Ack(id), &protocol.Ack{V: protocol.Version, Seq: seq}, false)
	eventually(t, 5*time.Second, func() error {
		if n := a.store.OutboxLen(); n != 0 {
			return fmt.Errorf("outbox %d after ack", n)
		}
		return nil
	})
}

func TestRestartReattachesWithoutRestarting(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startAgent(t, dir, b.url(), drv)
	id := a.NodeID()
	b.publish(topics.Desired(id), desired(id, 1, serviceAlloc("a1", nil)), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	a.stop(t)
	if drv.Task("a1/t").Exited() {
		t.Fatal("agent shutdown killed the task")
	}
	eventually(t, 5*time.Second, func() error {
		var off protocol.Online
		on := b.received(topics.Online(id))
		if err := protocol.Decode(on[len(on)-1], &off); err != nil || off.Online {
			return fmt.Errorf("last online marker %+v %v", off, err)
		}
		return nil
	})

	a2 := startAgent(t, dir, b.url(), drv)
	if a2.NodeID() != id {
		t.Fatalf("node id changed: %s → %s", id, a2.NodeID())
	}
	eventually(t, 10*time.Second, func() error {
		ups := b.updates(id)
		last := ups[len(ups)-1]
		ev := last.TaskStates["t"].Events
		if last.ClientStatus != protocol.AllocRunning || ev[len(ev)-1].Type != protocol.EventReattached {
			return fmt.Errorf("last update %s %v", last.ClientStatus, ev)
		}
		return nil
	})
	if n := drv.Starts("a1/t"); n != 1 {
		t.Fatalf("task started %d times, want 1", n)
	}
	// Still supervised after re-attaching: an exit is restarted.
	drv.Task("a1/t").Exit(1)
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 2 {
			return fmt.Errorf("starts %d", n)
		}
		return nil
	})
}

func TestRunsFromCachedDesiredWhileBrokerDown(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startAgent(t, dir, b.url(), drv)
	id := a.NodeID()
	// ctl asks to be stopped after 300 ms without central: a positive
	// control that the agent checks its allocations while cut off.
	ctl := serviceAlloc("ctl", nil)
	ctl.StopAfterMs = 300
	b.publish(topics.Desired(id), desired(id, 1, serviceAlloc("a1", nil), ctl), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	waitStatus(t, b, id, "ctl", protocol.AllocRunning)
	a.stop(t)
	b.close()
	drv.Forget() // the device rebooted: its tasks are gone

	a2 := startAgent(t, dir, b.url(), drv)
	eventually(t, 10*time.Second, func() error {
		if drv.Starts("a1/t") != 2 || drv.Task("a1/t") == nil || drv.Task("a1/t").Exited() {
			return fmt.Errorf("starts %d", drv.Starts("a1/t"))
		}
		return nil
	})
	eventually(t, 5*time.Second, func() error {
		recs, _ := a2.store.Allocs()
		for _, r := range recs {
			if r.Alloc.ID == "a1" && r.Client.ClientStatus == protocol.AllocRunning &&
				strings.Contains(fmt.Sprint(r.Client.TaskStates["t"].Events), "exit code unknown") {
				return nil
			}
		}
		return fmt.Errorf("records %+v", recs)
	})
	// Central stays silent: the agent stops ctl, which asked for it, and
	// in the same pass over its allocations leaves a1 running.
	eventually(t, 10*time.Second, func() error {
		if c := drv.Task("ctl/t"); c == nil || !c.Exited() {
			return fmt.Errorf("ctl not stopped after its stop_on_client_after")
		}
		return nil
	})
	if drv.Task("a1/t").Exited() {
		t.Fatal("task stopped while central is silent")
	}
}

func TestLostStateRecoversFromRetainedDesired(t *testing.T) {
	for _, mode := range []string{"missing", "corrupt"} {
		t.Run(mode, func(t *testing.T) {
			b := startBroker(t, "127.0.0.1:0")
			drv := fake.New()
			dir := t.TempDir()
			a := startAgent(t, dir, b.url(), drv)
			id := a.NodeID()
			b.publish(topics.Desired(id), desired(id, 3, serviceAlloc("a1", nil)), true)
			waitStatus(t, b, id, "a1", protocol.AllocRunning)
			a.stop(t)
			drv.Forget()
			path := filepath.Join(dir, state.FileName)
			if mode == "missing" {
				os.Remove(path)
			} else {
				os.WriteFile(path, []byte(strings.Repeat("corrupt!", 2048)), 0o600)
			}

			a2 := startAgent(t, dir, b.url(), drv)
			if a2.NodeID() != id {
				t.Fatalf("node id changed after losing the state file")
			}
			eventually(t, 10*time.Second, func() error {
				if drv.Starts("a1/t") != 2 || drv.Task("a1/t").Exited() {
					return fmt.Errorf("starts %d", drv.Starts("a1/t"))
				}
				return nil
			})
			if mode == "corrupt" {
				m, _ := filepath.Glob(path + ".corrupt-*")
				if len(m) != 1 {
					t.Fatalf("corrupt file not moved aside: %v", m)
				}
			}
		})
	}
}

func TestStopOnClientAfter(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	keep := serviceAlloc("keep", nil)
	cut := serviceAlloc("cut", nil)
	cut.StopAfterMs = 200
	b.publish(topics.Desired(id), desired(id, 1, keep, cut), true)
	waitStatus(t, b, id, "cut", protocol.AllocRunning)
	waitStatus(t, b, id, "keep", protocol.AllocRunning)
	b.close()
	eventually(t, 5*time.Second, func() error {
		if !drv.Task("cut/t").Exited() {
			return fmt.Errorf("alloc with stop_on_client_after still running")
		}
		return nil
	})
	if drv.Task("keep/t").Exited() {
		t.Fatal("alloc without stop_on_client_after was stopped")
	}
}

func TestReconnectFlushBatchesOf256(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	var allocs []protocol.DesiredAlloc
	for i := 0; i < 300; i++ {
		allocs = append(allocs, serviceAlloc(fmt.Sprintf("a%03d", i), nil))
	}
	b.publish(topics.Desired(id), desired(id, 1, allocs...), true)
	// Generous deadlines: 300 tasks started took 4.8 s under -race at a
	// load average of 18 on 2 cores (1.2 s at a load of 2).
	eventually(t, 60*time.Second, func() error {
		running := 0
		for _, u := range latestByAlloc(b.updates(id)) {
			if u.ClientStatus == protocol.AllocRunning {
				running++
			}
		}
		if running != 300 {
			return fmt.Errorf("%d running", running)
		}
		return nil
	})
	addr := b.addr
	b.close()
	b2 := startBroker(t, addr)
	var sizes []int
	eventually(t, 60*time.Second, func() error {
		sizes = sizes[:0]
		for _, p := range b2.received(topics.Up(id)) {
			var u protocol.Update
			if err := protocol.Decode(p, &u); err != nil {
				return err
			}
			sizes = append(sizes, len(u.Allocs))
		}
		if len(sizes) < 2 {
			return fmt.Errorf("up messages after reconnect: %v", sizes)
		}
		return nil
	})
	if sizes[0] != 256 || sizes[1] != 44 {
		t.Fatalf("batches %v, want [256 44]", sizes)
	}
}

func latestByAlloc(ups []protocol.AllocUpdate) map[string]protocol.AllocUpdate {
	m := map[string]protocol.AllocUpdate{}
	for _, u := range ups {
		m[u.AllocID] = u
	}
	return m
}
