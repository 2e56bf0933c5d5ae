package agent

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// statsHandle is a Handle whose CPU time grows by step per Stats call.
type statsHandle struct {
	drivers.Handle
	cpu   atomic.Int64 // ms
	step  int64
	noCPU bool
}

func (h *statsHandle) Stats() (drivers.Usage, error) {
	ms := h.cpu.Add(h.step)
	return drivers.Usage{RSSBytes: 42 << 20, CPUSeconds: float64(ms) / 1000, NoCPU: h.noCPU}, nil
}

func TestMeasure(t *testing.T) {
	busy := &statsHandle{step: 1000} // a second of CPU between the readings
	probes := []taskProbe{
		{name: "web", driver: "exec", h: busy},
		{name: "guest", driver: "wasm", h: &statsHandle{noCPU: true}},
		{name: "idle", driver: "exec"},
		{name: "blind", driver: "fake", h: struct{ drivers.Handle }{}},
	}
	r := measure(context.Background(), probes, 100*time.Millisecond)
	got := map[string]protocol.TaskUsage{}
	for _, u := range r.Tasks {
		got[u.Name] = u
	}
	if w := got["web"]; w.CPU < 1000 || w.CPU > 10000 || w.CPUTimeMs != 2000 || w.MemBytes != 42<<20 || w.NoCPU {
		t.Errorf("web: %+v, want about a core per 100 ms of a second of CPU (1000 to 10000 permille), 2000 ms in all", w)
	}
	if g := got["guest"]; !g.NoCPU || g.CPU != 0 || g.MemBytes != 42<<20 {
		t.Errorf("guest: %+v", g)
	}
	if got["idle"].Unavailable != "not running" || got["blind"].Unavailable != "the fake driver does not measure usage" {
		t.Errorf("idle %+v, blind %+v", got["idle"], got["blind"])
	}
	if r.Tasks[0].Name != "blind" || r.Time == 0 {
		t.Errorf("tasks not sorted or no time: %+v", r)
	}
}

// The agent answers a stats request on its reply topic: an allocation it
// does not run, or a task it does not have, is an error; a task whose
// driver measures nothing says so.
func TestStatsRequest(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	a := startAgent(t, t.TempDir(), b.url(), fake.New())
	id := a.NodeID()
	b.publish(topics.Desired(id), desired(id, 1, serviceAlloc("svc", nil)), true)
	waitStatus(t, b, id, "svc", protocol.AllocRunning)
	ask := func(reqID, alloc, task string) protocol.StatsReply {
		t.Helper()
		b.publish(topics.Stats(id), &protocol.StatsRequest{V: protocol.Version, ID: reqID, AllocID: alloc, Task: task}, false)
		var r protocol.StatsReply
		eventually(t, 10*time.Second, func() error {
			got := b.received(topics.StatsReply(id, reqID))
			if len(got) == 0 {
				return fmt.Errorf("no reply to %s", reqID)
			}
			return protocol.Decode(got[0], &r)
		})
		return r
	}
	if r := ask("r1", "nope", ""); r.Err != "allocation nope is not running on this node" {
		t.Errorf("unknown allocation: %+v", r)
	}
	if r := ask("r2", "svc", "other"); r.Err != "allocation svc has no task other" {
		t.Errorf("unknown task: %+v", r)
	}
	r := ask("r3", "svc", "")
	if r.Err != "" || len(r.Tasks) == 0 || r.Tasks[0].Unavailable != "the fake driver does not measure usage" {
		t.Errorf("fake task: %+v", r)
	}
	// At most maxStatsRequests are measured at once: the next is refused
	// with a message, not queued (a tiny device is not made to measure a
	// flood).
	a.stats.active.Store(maxStatsRequests)
	if r := ask("r4", "svc", ""); r.Err != "too many stats requests on this node; try again in a second" {
		t.Errorf("over the limit: %+v", r)
	}
	a.stats.active.Store(0)
	// Malformed requests are dropped and counted, never answered.
	before := a.Counters().Malformed
	b.publish(topics.Stats(id), []byte{0xa1, 0x00}, false)
	eventually(t, 10*time.Second, func() error {
		if a.Counters().Malformed == before {
			return fmt.Errorf("malformed request not counted")
		}
		return nil
	})
}
