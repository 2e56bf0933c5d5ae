package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// A verdict reached while the broker is down goes out with the outbox when
// it is back, with the time it was reached; after an agent restart it is
// carried as recorded, not decided again.
func TestHealthVerdictThroughOutageAndRestart(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startAgent(t, dir, b.url(), drv)
	id := a.NodeID()
	alloc := serviceAlloc("a1", nil)
	alloc.DeploymentID = "d1"
	alloc.Health = &protocol.HealthPolicy{Mode: protocol.HealthTaskStates, MinHealthyMs: 2000, DeadlineMs: 60_000}
	b.publish(topics.Desired(id), desired(id, 1, alloc), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	addr := b.addr
	b.close()
	down := time.Now()

	var verdict protocol.AllocHealth
	eventually(t, 10*time.Second, func() error {
		recs, _ := a.store.Allocs()
		if len(recs) != 1 || recs[0].Client.Health == nil {
			return fmt.Errorf("no verdict recorded yet")
		}
		verdict = *recs[0].Client.Health
		return nil
	})
	if !verdict.Healthy || verdict.DeploymentID != "d1" {
		t.Fatalf("verdict %+v, want healthy for d1", verdict)
	}

	// The agent waits a random time under a ceiling that doubles from 1 s
	// up to 30 s before each reconnect: under load the new broker can miss
	// the early attempts.
	b2 := startBroker(t, addr)
	eventually(t, 60*time.Second, func() error {
		for _, u := range b2.updates(id) {
			if u.AllocID == "a1" && u.Health != nil && *u.Health == verdict {
				return nil
			}
		}
		return fmt.Errorf("the verdict was not sent after reconnecting")
	})
	if at := time.UnixMilli(verdict.Time); !at.After(down) {
		t.Fatalf("verdict time %v, want while the broker was down (from %v)", at, down)
	}

	a.stop(t)
	startAgent(t, dir, b2.url(), drv)
	eventually(t, 10*time.Second, func() error {
		ups := b2.updates(id)
		last := ups[len(ups)-1]
		ev := last.TaskStates["t"].Events
		if ev[len(ev)-1].Type != protocol.EventReattached {
			return fmt.Errorf("last update %s %v", last.ClientStatus, ev)
		}
		return nil
	})
	var hello protocol.Hello
	hellos := b2.received(topics.Hello(id))
	if err := protocol.Decode(hellos[len(hellos)-1], &hello); err != nil || len(hello.Allocs) != 1 || hello.Allocs[0].Health == nil || *hello.Allocs[0].Health != verdict {
		t.Fatalf("hello after the restart: %+v %v", hello.Allocs, err)
	}
	for _, u := range b2.updates(id) {
		if u.AllocID == "a1" && (u.Health == nil || *u.Health != verdict) {
			t.Fatalf("an update carries %+v, want the one verdict %+v", u.Health, verdict)
		}
	}
}

// A desired alloc with a health policy the agent cannot honour is refused.
func TestCheckHealthPolicy(t *testing.T) {
	ok := serviceAlloc("a1", nil)
	ok.DeploymentID, ok.Health = "d1", &protocol.HealthPolicy{Mode: "checks", MinHealthyMs: 10_000, DeadlineMs: 300_000}
	if err := checkAlloc(&ok); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*protocol.DesiredAlloc){
		"unknown mode":     func(a *protocol.DesiredAlloc) { a.Health.Mode = "vibes" },
		"negative wait":    func(a *protocol.DesiredAlloc) { a.Health.MinHealthyMs = -1 },
		"absurd deadline":  func(a *protocol.DesiredAlloc) { a.Health.DeadlineMs = 1 << 50 },
		"no deployment id": func(a *protocol.DesiredAlloc) { a.DeploymentID = "" },
	} {
		bad := ok
		h := *ok.Health
		bad.Health = &h
		mutate(&bad)
		if err := checkAlloc(&bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
