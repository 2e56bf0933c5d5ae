package allocrunner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func deployAlloc(id, mode string, minHealthyMs, deadlineMs int64, rp protocol.RestartPolicy) *protocol.DesiredAlloc {
	a := oneTask(id, "service", nil, rp)
	a.DeploymentID = "d1"
	a.Health = &protocol.HealthPolicy{Mode: mode, MinHealthyMs: minHealthyMs, DeadlineMs: deadlineMs}
	return a
}

// waitHealth waits for an update that carries a verdict and returns it.
func (h *harness) waitHealth() *protocol.AllocHealth {
	h.t.Helper()
	eventually(h.t, 10*time.Second, func() error {
		if h.last().Health == nil {
			return fmt.Errorf("no verdict yet (status %s)", h.last().ClientStatus)
		}
		return nil
	})
	return h.last().Health
}

// verdicts counts the distinct verdicts the updates carried.
func (h *harness) verdicts() []protocol.AllocHealth {
	var out []protocol.AllocHealth
	for _, u := range h.all() {
		if u.Health != nil && (len(out) == 0 || out[len(out)-1] != *u.Health) {
			out = append(out, *u.Health)
		}
	}
	return out
}

var keepRunning = protocol.RestartPolicy{Attempts: 3, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail}

// Healthy once the task has run for min_healthy_time; the verdict rides
// on every later update, decided once.
func TestDeployHealthHealthyAfterMinHealthyTime(t *testing.T) {
	drv := fake.New()
	h := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 300, 30_000, keepRunning), drv, newMemStore(), nil, nil)
	started := h.waitStatus(protocol.AllocRunning).TaskStates["t"].StartedAt
	v := h.waitHealth()
	if !v.Healthy || v.DeploymentID != "d1" || v.Reason != "" {
		t.Fatalf("verdict %+v, want healthy for d1", v)
	}
	if v.Time-started < 300 {
		t.Fatalf("healthy %d ms after the start, want at least min_healthy_time (300 ms)", v.Time-started)
	}
	for _, u := range h.all() {
		if u.Health == nil && u.Time >= v.Time+1 {
			t.Fatalf("an update after the verdict lacks it: %+v", u)
		}
	}
	h.runner.Stop()
	if u := h.waitStatus(protocol.AllocComplete); u.Health == nil || *u.Health != *v {
		t.Fatalf("the final update carries %+v, want the verdict %+v", u.Health, v)
	}
	if vs := h.verdicts(); len(vs) != 1 {
		t.Fatalf("verdicts %+v, want one", vs)
	}
}

func TestDeployHealthUnhealthyWhenTaskFails(t *testing.T) {
	drv := fake.New()
	h := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 60_000, 60_000, protocol.RestartPolicy{Mode: ModeFail}), drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	drv.Task("a1/t").Exit(1)
	v := h.waitHealth()
	if v.Healthy || v.Reason != `task "t" failed` {
		t.Fatalf("verdict %+v, want unhealthy: task failed", v)
	}
}

// A restart before min_healthy_time starts the wait again: the verdict
// comes min_healthy_time after the restart, not after the first start.
func TestDeployHealthRestartStartsTheWaitAgain(t *testing.T) {
	drv := fake.New()
	h := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 800, 60_000, keepRunning), drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	drv.Task("a1/t").Exit(1)
	var restarted int64
	eventually(t, 5*time.Second, func() error {
		ts := h.last().TaskStates["t"]
		if ts.Restarts != 1 || ts.State != protocol.TaskRunning {
			return fmt.Errorf("task %s, %d restarts", ts.State, ts.Restarts)
		}
		restarted = ts.StartedAt
		return nil
	})
	v := h.waitHealth()
	if !v.Healthy || v.Time-restarted < 800 {
		t.Fatalf("verdict %+v, %d ms after the restart; want healthy at least 800 ms after it", v, v.Time-restarted)
	}
}

// With health_check = "checks", a check that never passes makes the
// allocation unhealthy at healthy_deadline, though its task runs.
func TestDeployHealthUnhealthyAtDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	alloc := deployAlloc("a1", protocol.HealthChecks, 100, 600, keepRunning)
	withCheck(alloc, srv.URL, protocol.Check{Type: "http", Path: "/health", IntervalMs: 20, TimeoutMs: 1000})
	drv := fake.New()
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	v := h.waitHealth()
	if v.Healthy || !strings.Contains(v.Reason, "service checks not passing by healthy_deadline of 600ms") {
		t.Fatalf("verdict %+v, want unhealthy: checks not passing by the deadline", v)
	}
	if st := h.last().TaskStates["t"].State; st != protocol.TaskRunning {
		t.Fatalf("task %s, want still running (the verdict does not stop it)", st)
	}
}

// With passing checks the allocation is healthy; in checks mode it waits
// for them.
func TestDeployHealthChecksPass(t *testing.T) {
	var code atomic.Int32
	code.Store(503)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(code.Load())) }))
	defer srv.Close()
	alloc := deployAlloc("a1", protocol.HealthChecks, 200, 60_000, keepRunning)
	withCheck(alloc, srv.URL, protocol.Check{Type: "http", Path: "/health", IntervalMs: 20, TimeoutMs: 1000})
	drv := fake.New()
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	started := h.waitStatus(protocol.AllocRunning).TaskStates["t"].StartedAt
	eventually(t, 5*time.Second, func() error { // a failing probe seen
		if u := h.last(); len(u.Services) != 1 || u.Services[0].Output == "" || strings.HasPrefix(u.Services[0].Output, "pending") {
			return fmt.Errorf("services %+v", u.Services)
		}
		return nil
	})
	if h.last().Health != nil {
		t.Fatalf("a verdict while the check fails: %+v", h.last().Health)
	}
	passing := time.Now().UnixMilli()
	code.Store(200)
	v := h.waitHealth()
	if !v.Healthy || v.Time < passing+200 || v.Time-started < 200 {
		t.Fatalf("verdict %+v; checks passing from %d: want healthy at least 200 ms after", v, passing)
	}
}

func withCheck(a *protocol.DesiredAlloc, srvURL string, c protocol.Check) {
	su, _ := url.Parse(srvURL)
	port, _ := strconv.Atoi(su.Port())
	a.Ports = []protocol.Port{{Label: "http", Value: port}}
	a.Tasks[0].Services = []protocol.Service{{Name: "web", PortLabel: "http", Address: "127.0.0.1", Checks: []protocol.Check{c}}}
}

// After an agent restart, a verdict recorded for the same deployment is
// carried as it was, not decided again; one for another deployment is
// dropped and health decided anew.
func TestDeployHealthSurvivesAgentRestart(t *testing.T) {
	drv := fake.New()
	store := newMemStore()
	first := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 100, 60_000, keepRunning), drv, store, nil, nil)
	first.waitStatus(protocol.AllocRunning)
	v := *first.waitHealth()
	prev := first.last()
	first.cancel() // the agent stops; the task keeps running
	<-first.runner.Done()
	hs, ok := store.get("a1", "t")
	if !ok {
		t.Fatal("no saved handle")
	}

	second := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 100, 60_000, keepRunning), drv, store, &prev, map[string]drivers.HandleState{"t": hs})
	eventually(t, 5*time.Second, func() error {
		if len(second.all()) < 2 {
			return fmt.Errorf("%d updates", len(second.all()))
		}
		return nil
	})
	for _, u := range second.all() {
		if u.Health == nil || *u.Health != v {
			t.Fatalf("after the restart an update carries %+v, want the recorded verdict %+v", u.Health, v)
		}
	}

	// Recorded for d1, but the alloc now belongs to d2: decided anew.
	second.cancel()
	<-second.runner.Done()
	prev = second.last()
	hs, _ = store.get("a1", "t")
	moved := deployAlloc("a1", protocol.HealthTaskStates, 100, 60_000, keepRunning)
	moved.DeploymentID = "d2"
	third := startRunner(t, moved, drv, store, &prev, map[string]drivers.HandleState{"t": hs})
	if got := third.waitHealth(); !got.Healthy || got.DeploymentID != "d2" || got.Time <= v.Time {
		t.Fatalf("verdict %+v, want a new one for d2", got)
	}
}

// An in-place update that moves a running allocation to a new deployment
// decides its health again, for the new deployment.
func TestDeployHealthNewDeployment(t *testing.T) {
	drv := fake.New()
	h := startRunner(t, deployAlloc("a1", protocol.HealthTaskStates, 100, 60_000, keepRunning), drv, newMemStore(), nil, nil)
	first := *h.waitHealth()
	h.runner.SetDeployment("d2", &protocol.HealthPolicy{Mode: protocol.HealthTaskStates, MinHealthyMs: 150, DeadlineMs: 60_000})
	eventually(t, 5*time.Second, func() error {
		if v := h.last().Health; v == nil || v.DeploymentID != "d2" {
			return fmt.Errorf("verdict %+v", v)
		}
		return nil
	})
	if v := h.last().Health; !v.Healthy || v.Time < first.Time+150 {
		t.Fatalf("verdict %+v, want healthy at least 150 ms after the move", v)
	}
	if !DeploymentChanged(&protocol.DesiredAlloc{DeploymentID: "d1"}, &protocol.DesiredAlloc{DeploymentID: "d2"}) ||
		DeploymentChanged(&protocol.DesiredAlloc{DeploymentID: "d1", Health: &protocol.HealthPolicy{Mode: "checks"}},
			&protocol.DesiredAlloc{DeploymentID: "d1", Health: &protocol.HealthPolicy{Mode: "checks"}}) {
		t.Fatal("DeploymentChanged")
	}
}

// Manual health, no policy, or a stop by central before a verdict: the
// agent reports nothing.
func TestDeployHealthNothingToReport(t *testing.T) {
	drv := fake.New()
	manual := startRunner(t, deployAlloc("m1", protocol.HealthManual, 0, 100, keepRunning), drv, newMemStore(), nil, nil)
	none := startRunner(t, oneTask("n1", "service", nil, keepRunning), drv, newMemStore(), nil, nil)
	stopped := startRunner(t, deployAlloc("s1", protocol.HealthTaskStates, 60_000, 60_000, keepRunning), drv, newMemStore(), nil, nil)
	for _, h := range []*harness{manual, none, stopped} {
		h.waitStatus(protocol.AllocRunning)
	}
	stopped.runner.Stop()
	stopped.waitStatus(protocol.AllocComplete)
	// Past the manual policy's deadline (100 ms) by far.
	deadline := time.Now().Add(500 * time.Millisecond)
	eventually(t, 5*time.Second, func() error {
		if time.Now().Before(deadline) {
			return fmt.Errorf("waiting")
		}
		return nil
	})
	manual.runner.Stop()
	none.runner.Stop()
	manual.waitStatus(protocol.AllocComplete)
	none.waitStatus(protocol.AllocComplete)
	for name, h := range map[string]*harness{"manual": manual, "no policy": none, "stopped": stopped} {
		if vs := h.verdicts(); len(vs) != 0 {
			t.Errorf("%s: verdicts %+v, want none", name, vs)
		}
	}
}

// check_restart: a check failing limit times in a row restarts the task
// through its restart policy (counted as an attempt); past the attempts
// the task fails, as Nomad's.
func TestCheckRestartRestartsThroughThePolicy(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, IntervalMs: 600_000, DelayMs: 1, Mode: ModeFail})
	withCheck(alloc, srv.URL, protocol.Check{Type: "http", Path: "/health", IntervalMs: 20, TimeoutMs: 1000, RestartLimit: 2})
	drv := fake.New()
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocFailed)
	ts := u.TaskStates["t"]
	if ts.Restarts != 1 || !ts.Failed || drv.Starts("a1/t") != 2 {
		t.Fatalf("task %+v after %d starts; want one restart, then failed", ts, drv.Starts("a1/t"))
	}
	types := eventTypes(ts)
	if n := countOf(types, protocol.EventRestartSignal); n != 2 || !slices.Contains(types, protocol.EventNotRestarting) {
		t.Fatalf("events %v, want 2 Restart Signaled then Not Restarting", types)
	}
	for _, e := range ts.Events {
		if e.Type == protocol.EventRestartSignal && !strings.Contains(e.Message, "failed 2 times in a row") {
			t.Fatalf("restart event %q does not say why", e.Message)
		}
	}
}

// Within the grace, failures do not count.
func TestCheckRestartNotWithinGrace(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	alloc := oneTask("a1", "service", nil, keepRunning)
	withCheck(alloc, srv.URL, protocol.Check{Type: "http", Path: "/health", IntervalMs: 10, TimeoutMs: 1000, RestartLimit: 1, RestartGraceMs: 3_600_000})
	drv := fake.New()
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	eventually(t, 10*time.Second, func() error {
		if n := hits.Load(); n < 20 {
			return fmt.Errorf("%d probes", n)
		}
		return nil
	})
	if ts := h.last().TaskStates["t"]; ts.Restarts != 0 || drv.Starts("a1/t") != 1 || slices.Contains(eventTypes(ts), protocol.EventRestartSignal) {
		t.Fatalf("restarted within the grace: %+v", ts)
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
