package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func running(name string, since float64) TaskObs {
	return TaskObs{Name: name, State: protocol.TaskRunning, StartedAt: at(since)}
}

func TestTrackerTaskStatesHealthyAfterMinHealthyTime(t *testing.T) {
	tr := NewTracker(Policy{MinHealthy: 10 * time.Second, Deadline: time.Minute}, at(0))
	if d := tr.Observe(at(0), Obs{Tasks: []TaskObs{{Name: "web", State: protocol.TaskPending}}}); d != nil {
		t.Fatalf("decided while pending: %+v", d)
	}
	if d := tr.Observe(at(2), Obs{Tasks: []TaskObs{running("web", 2)}}); d != nil {
		t.Fatalf("decided at start: %+v", d)
	}
	if next := tr.Next(); !next.Equal(at(12)) {
		t.Fatalf("Next = %v, want start + min_healthy_time (%v)", next, at(12))
	}
	if d := tr.Check(at(11.9)); d != nil {
		t.Fatalf("healthy before min_healthy_time: %+v", d)
	}
	d := tr.Check(at(12))
	if d == nil || !d.Healthy || !d.Time.Equal(at(12)) {
		t.Fatalf("at min_healthy_time: %+v, want healthy", d)
	}
	// Decided once: nothing changes it afterwards.
	if d := tr.Observe(at(13), Obs{Tasks: []TaskObs{{Name: "web", State: protocol.TaskDead, Failed: true}}}); d == nil || !d.Healthy {
		t.Fatalf("a later failure changed the verdict: %+v", d)
	}
	if !tr.Next().IsZero() {
		t.Fatal("a decided tracker asks to be woken")
	}
}

// A restart before min_healthy_time starts the wait again (as Nomad);
// a task that keeps restarting is unhealthy at the deadline.
func TestTrackerRestartResetsAndDeadlineFails(t *testing.T) {
	tr := NewTracker(Policy{MinHealthy: 10 * time.Second, Deadline: 30 * time.Second}, at(0))
	tr.Observe(at(1), Obs{Tasks: []TaskObs{running("web", 1)}})
	tr.Observe(at(8), Obs{Tasks: []TaskObs{{Name: "web", State: protocol.TaskPending, StartedAt: at(1)}}}) // restarting
	if d := tr.Check(at(11)); d != nil {
		t.Fatalf("healthy although the task restarted: %+v", d)
	}
	tr.Observe(at(9), Obs{Tasks: []TaskObs{running("web", 9)}})
	if next := tr.Next(); !next.Equal(at(19)) {
		t.Fatalf("Next = %v, want the new start + min_healthy_time (%v)", next, at(19))
	}
	tr.Observe(at(18), Obs{Tasks: []TaskObs{{Name: "web", State: protocol.TaskPending, StartedAt: at(9)}}})
	tr.Observe(at(25), Obs{Tasks: []TaskObs{running("web", 25)}})
	if next := tr.Next(); !next.Equal(at(30)) {
		t.Fatalf("Next = %v, want the deadline (%v)", next, at(30))
	}
	d := tr.Check(at(30))
	if d == nil || d.Healthy || !strings.Contains(d.Reason, "min_healthy_time of 10s by healthy_deadline of 30s") {
		t.Fatalf("at the deadline: %+v, want unhealthy with Nomad's reason", d)
	}
}

func TestTrackerUnhealthyAtOnce(t *testing.T) {
	cases := []struct {
		name string
		task TaskObs
		want string
	}{
		{"failed", TaskObs{Name: "web", State: protocol.TaskDead, Failed: true}, `task "web" failed`},
		{"main task finished", TaskObs{Name: "web", State: protocol.TaskDead}, `task "web" is dead`},
		{"sidecar finished", TaskObs{Name: "log", Hook: hookPrestart, Sidecar: true, State: protocol.TaskDead}, `task "log" is dead`},
	}
	for _, c := range cases {
		tr := NewTracker(Policy{MinHealthy: time.Second, Deadline: time.Minute}, at(0))
		d := tr.Observe(at(3), Obs{Tasks: []TaskObs{running("main", 1), c.task}})
		if d == nil || d.Healthy || d.Reason != c.want || !d.Time.Equal(at(3)) {
			t.Errorf("%s: %+v, want unhealthy %q at once", c.name, d, c.want)
		}
	}
}

// Lifecycle tasks: a completed prestart or poststart task and a poststop
// task waiting for the end do not keep the allocation from being healthy.
func TestTrackerLifecycleTasks(t *testing.T) {
	tr := NewTracker(Policy{MinHealthy: time.Second, Deadline: time.Minute}, at(0))
	tr.Observe(at(2), Obs{Tasks: []TaskObs{
		running("main", 2),
		{Name: "init", Hook: hookPrestart, State: protocol.TaskDead, StartedAt: at(1)},
		{Name: "warm", Hook: hookPoststart, State: protocol.TaskDead, StartedAt: at(2)},
		{Name: "flush", Hook: hookPoststop, State: protocol.TaskPending},
	}})
	if d := tr.Check(at(3)); d == nil || !d.Healthy {
		t.Fatalf("%+v, want healthy", d)
	}
}

// With health_check = "checks", the checks must pass continuously for
// min_healthy_time too: a failure starts the wait again.
func TestTrackerChecks(t *testing.T) {
	tr := NewTracker(Policy{Checks: true, MinHealthy: 5 * time.Second, Deadline: time.Minute}, at(0))
	web := []TaskObs{running("web", 1)}
	tr.Observe(at(1), Obs{Tasks: web})
	if d := tr.Check(at(10)); d != nil {
		t.Fatalf("healthy with checks never passing: %+v", d)
	}
	tr.Observe(at(10), Obs{Tasks: web, ChecksPassing: true})
	tr.Observe(at(13), Obs{Tasks: web}) // a failed probe
	tr.Observe(at(14), Obs{Tasks: web, ChecksPassing: true})
	if d := tr.Check(at(18)); d != nil {
		t.Fatalf("healthy although a check failed within min_healthy_time: %+v", d)
	}
	if next := tr.Next(); !next.Equal(at(19)) {
		t.Fatalf("Next = %v, want %v", next, at(19))
	}
	if d := tr.Check(at(19)); d == nil || !d.Healthy {
		t.Fatalf("%+v, want healthy 5s after the checks passed again", d)
	}

	tr = NewTracker(Policy{Checks: true, MinHealthy: 5 * time.Second, Deadline: 20 * time.Second}, at(0))
	tr.Observe(at(1), Obs{Tasks: web})
	if d := tr.Check(at(20)); d == nil || d.Healthy || !strings.Contains(d.Reason, "service checks not passing by healthy_deadline of 20s") {
		t.Fatalf("%+v, want unhealthy: checks not passing by the deadline", d)
	}
}

// Tracking that starts after the tasks did (a new deployment of a running
// allocation, an agent restart) waits min_healthy_time from its start.
func TestTrackerStartedLate(t *testing.T) {
	tr := NewTracker(Policy{MinHealthy: 10 * time.Second}, at(100))
	tr.Observe(at(100), Obs{Tasks: []TaskObs{running("web", 1)}})
	if d := tr.Check(at(105)); d != nil {
		t.Fatalf("%+v before min_healthy_time since tracking began", d)
	}
	if d := tr.Check(at(110)); d == nil || !d.Healthy {
		t.Fatalf("%+v, want healthy", d)
	}
}

func TestRestartCounter(t *testing.T) {
	c := restartCounter{limit: 3, graceUntil: at(10)}
	fail := errPending
	for i := 0; i < 5; i++ {
		if c.observe(at(float64(i)), fail) {
			t.Fatalf("restart asked within the grace (failure %d)", i+1)
		}
	}
	if c.observe(at(11), fail) || c.observe(at(12), fail) {
		t.Fatal("restart before the limit")
	}
	if c.observe(at(13), nil) || c.observe(at(14), fail) || c.observe(at(15), fail) {
		t.Fatal("a pass did not reset the count")
	}
	if !c.observe(at(16), fail) {
		t.Fatal("no restart after 3 failures in a row")
	}
	if (&restartCounter{}).observe(at(100), fail) {
		t.Fatal("limit 0 asked for a restart")
	}
}

// WatchRestart asks for a restart once a check with check_restart has
// failed limit times in a row, and only once; failures within the grace
// do not count.
func TestWatchRestartAfterLimit(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var asked atomic.Int32
	var reason atomic.Value
	WatchRestart(ctx, []Check{{Type: "http", Addr: addr, Interval: 20 * time.Millisecond, Timeout: time.Second, RestartLimit: 3}},
		func(Status) {}, func(r string) { asked.Add(1); reason.Store(r) })
	eventually(t, 10*time.Second, func() error {
		if asked.Load() == 0 {
			return fmt.Errorf("no restart after %d failing probes", hits.Load())
		}
		return nil
	})
	if h := hits.Load(); h < 3 {
		t.Fatalf("restart after %d probes, want at least 3", h)
	}
	if r, _ := reason.Load().(string); !strings.Contains(r, "failed 3 times in a row") || !strings.Contains(r, "503") {
		t.Fatalf("reason %q", r)
	}
	n := hits.Load()
	eventually(t, 10*time.Second, func() error {
		if hits.Load() < n+5 {
			return fmt.Errorf("probes stopped")
		}
		return nil
	})
	if a := asked.Load(); a != 1 {
		t.Fatalf("restart asked %d times, want once", a)
	}

	// Within the grace: many failures, no restart.
	var graceHits atomic.Int32
	grace := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		graceHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer grace.Close()
	var graceAsked atomic.Int32
	WatchRestart(ctx, []Check{{Type: "http", Addr: strings.TrimPrefix(grace.URL, "http://"), Interval: 10 * time.Millisecond, Timeout: time.Second,
		RestartLimit: 1, RestartGrace: time.Hour}}, func(Status) {}, func(string) { graceAsked.Add(1) })
	eventually(t, 10*time.Second, func() error {
		if graceHits.Load() < 10 {
			return fmt.Errorf("%d probes", graceHits.Load())
		}
		return nil
	})
	if graceAsked.Load() != 0 {
		t.Fatal("restart asked within the grace")
	}
}

// BenchmarkTrackerObserve is the cost the tracker adds to each update of
// an allocation (three tasks) before its verdict.
func BenchmarkTrackerObserve(b *testing.B) {
	tr := NewTracker(Policy{Checks: true, MinHealthy: time.Hour, Deadline: 2 * time.Hour}, at(0))
	obs := Obs{Tasks: []TaskObs{running("a", 1), running("b", 1), {Name: "c", Hook: hookPrestart, State: protocol.TaskDead, StartedAt: at(0)}}, ChecksPassing: true}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if tr.Observe(at(float64(i%1000)), obs) != nil {
			b.Fatal("decided")
		}
	}
}
