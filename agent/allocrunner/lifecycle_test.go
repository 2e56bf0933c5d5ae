package allocrunner

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// hookAlloc is an allocation of the given tasks on the fake driver.
func hookAlloc(jobType string, rp protocol.RestartPolicy, tasks ...protocol.Task) *protocol.DesiredAlloc {
	for i := range tasks {
		tasks[i].Driver = "fake"
	}
	return &protocol.DesiredAlloc{ID: "a1", JobID: "job", TaskGroup: "g", JobType: jobType, DesiredStatus: protocol.DesiredRun, Restart: rp, Tasks: tasks}
}

var quickFail = protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail}

// waitTask waits until task's last reported state satisfies ok.
func (h *harness) waitTask(task string, what string, ok func(protocol.TaskState) bool) protocol.AllocUpdate {
	h.t.Helper()
	eventually(h.t, 10*time.Second, func() error {
		if ts := h.last().TaskStates[task]; !ok(ts) {
			return fmt.Errorf("task %s: %s %+v, want %s", task, ts.State, ts, what)
		}
		return nil
	})
	return h.last()
}

func isRunning(ts protocol.TaskState) bool { return ts.State == protocol.TaskRunning }
func isDead(ts protocol.TaskState) bool    { return ts.State == protocol.TaskDead }

// firstUpdate returns the first update in which task's state satisfies ok.
func (h *harness) firstUpdate(task string, ok func(protocol.TaskState) bool) (protocol.AllocUpdate, bool) {
	for _, u := range h.all() {
		if ok(u.TaskStates[task]) {
			return u, true
		}
	}
	return protocol.AllocUpdate{}, false
}

// An ephemeral prestart task runs before the main task, once: its exit 0
// neither restarts it nor kills the main task (issue 15: it was restarted
// like a service task until the main task was killed).
func TestPrestartRunsToCompletionBeforeMain(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("service", quickFail,
		protocol.Task{Name: "main"},
		protocol.Task{Name: "init", Lifecycle: HookPrestart},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("init", "running", isRunning)
	if n := drv.Starts("a1/main"); n != 0 {
		t.Fatalf("main started %d times while the prestart task runs", n)
	}
	if st := h.last().TaskStates["main"].State; st != protocol.TaskPending {
		t.Fatalf("main is %s while the prestart task runs", st)
	}
	drv.Task("a1/init").Exit(0)
	u := h.waitTask("main", "running", isRunning)
	if ts := u.TaskStates["init"]; ts.State != protocol.TaskDead || ts.Failed || ts.Restarts != 0 {
		t.Fatalf("prestart task state %+v", ts)
	}
	if u.ClientStatus != protocol.AllocRunning {
		t.Fatalf("alloc %s, want running", u.ClientStatus)
	}
	// Main runs on; the finished prestart task is left alone.
	drv.Task("a1/main").Exit(0) // a service main task is restarted on success
	eventually(t, 10*time.Second, func() error {
		if n := drv.Starts("a1/main"); n != 2 {
			return fmt.Errorf("main started %d times", n)
		}
		return nil
	})
	if n := drv.Starts("a1/init"); n != 1 {
		t.Fatalf("prestart task started %d times, want 1", n)
	}
	if s := h.last().ClientStatus; s != protocol.AllocRunning && s != protocol.AllocPending {
		t.Fatalf("alloc %s", s)
	}
}

// A prestart task that fails after its restarts fails the allocation; the
// main task never starts.
func TestPrestartFailureFailsAllocMainNeverStarts(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("service", quickFail,
		protocol.Task{Name: "main"},
		protocol.Task{Name: "init", Lifecycle: HookPrestart, Config: map[string]any{"exit_after": "5ms", "exit_code": 2}},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocFailed)
	<-h.runner.Done()
	u := h.waitTask("main", "dead", isDead)
	if n := drv.Starts("a1/init"); n != 2 {
		t.Fatalf("prestart started %d times, want 2 (1 restart)", n)
	}
	if n := drv.Starts("a1/main"); n != 0 {
		t.Fatalf("main started %d times, want 0", n)
	}
	if ts := u.TaskStates["main"]; ts.State != protocol.TaskDead || !slices.Contains(eventTypes(ts), protocol.EventSiblingFailed) {
		t.Fatalf("main state %+v", ts)
	}
}

// A prestart sidecar must run before main starts, runs beside it, is
// restarted even after exit 0, and is killed when the main task ends.
func TestPrestartSidecarBesideMain(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("batch", protocol.RestartPolicy{Attempts: 3, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail},
		protocol.Task{Name: "main"},
		protocol.Task{Name: "proxy", Lifecycle: HookPrestart, Sidecar: true},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	u := h.waitTask("main", "running", isRunning)
	if !isRunning(u.TaskStates["proxy"]) {
		t.Fatalf("sidecar %+v while main runs", u.TaskStates["proxy"])
	}
	first, _ := h.firstUpdate("main", isRunning)
	if !isRunning(first.TaskStates["proxy"]) {
		t.Fatal("main started before the prestart sidecar ran")
	}
	drv.Task("a1/proxy").Exit(0) // a sidecar is restarted on success, even in a batch job
	eventually(t, 10*time.Second, func() error {
		if n := drv.Starts("a1/proxy"); n != 2 || !isRunning(h.last().TaskStates["proxy"]) {
			return fmt.Errorf("sidecar started %d times", n)
		}
		return nil
	})
	drv.Task("a1/main").Exit(0)
	u = h.waitStatus(protocol.AllocComplete)
	<-h.runner.Done()
	ts := u.TaskStates["proxy"]
	if ts.State != protocol.TaskDead || ts.Failed || !slices.Contains(eventTypes(ts), protocol.EventKilled) {
		t.Fatalf("sidecar after main ended: %+v", ts)
	}
	if drv.Task("a1/proxy").Stops() == 0 {
		t.Fatal("sidecar not stopped")
	}
}

// A poststart task starts once the main task runs and, being ephemeral, is
// not restarted after exit 0; a poststop task starts only after the main
// task (and the sidecars) have exited.
func TestPoststartAndPoststop(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("batch", quickFail,
		protocol.Task{Name: "main"},
		protocol.Task{Name: "announce", Lifecycle: HookPoststart},
		protocol.Task{Name: "logger", Lifecycle: HookPoststart, Sidecar: true},
		protocol.Task{Name: "cleanup", Lifecycle: HookPoststop},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("announce", "running", isRunning)
	if first, _ := h.firstUpdate("announce", isRunning); !isRunning(first.TaskStates["main"]) {
		t.Fatal("poststart started before main ran")
	}
	drv.Task("a1/announce").Exit(0)
	h.waitTask("announce", "dead", isDead)
	h.waitTask("logger", "running", isRunning)
	if n := drv.Starts("a1/cleanup"); n != 0 {
		t.Fatalf("poststop started %d times while main runs", n)
	}
	drv.Task("a1/main").Exit(0)
	h.waitTask("cleanup", "running", isRunning)
	first, _ := h.firstUpdate("cleanup", isRunning)
	for _, n := range []string{"main", "announce", "logger"} {
		if !isDead(first.TaskStates[n]) {
			t.Fatalf("poststop started while %s is %s", n, first.TaskStates[n].State)
		}
	}
	drv.Task("a1/cleanup").Exit(0)
	u := h.waitStatus(protocol.AllocComplete)
	<-h.runner.Done()
	for task, want := range map[string]int{"main": 1, "announce": 1, "logger": 1, "cleanup": 1} {
		if n := drv.Starts("a1/" + task); n != want {
			t.Errorf("%s started %d times, want %d", task, n, want)
		}
	}
	if ts := u.TaskStates["cleanup"]; ts.Failed || ts.Restarts != 0 {
		t.Fatalf("poststop %+v", ts)
	}
}

// A stop from central kills the main task, then the sidecar, then runs
// the poststop task to completion.
func TestStopRunsPoststop(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("service", quickFail,
		protocol.Task{Name: "main"},
		protocol.Task{Name: "proxy", Lifecycle: HookPrestart, Sidecar: true},
		protocol.Task{Name: "cleanup", Lifecycle: HookPoststop},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("main", "running", isRunning)
	h.runner.Stop()
	h.waitTask("cleanup", "running", isRunning)
	first, _ := h.firstUpdate("cleanup", isRunning)
	if !isDead(first.TaskStates["main"]) || !isDead(first.TaskStates["proxy"]) {
		t.Fatalf("poststop started beside live tasks: %+v", first.TaskStates)
	}
	// The sidecar was killed after the main task had died.
	mainDead, _ := h.firstUpdate("main", isDead)
	if !isRunning(mainDead.TaskStates["proxy"]) && mainDead.TaskStates["proxy"].State != protocol.TaskPending {
		t.Fatalf("sidecar was %s when main died; want it killed after", mainDead.TaskStates["proxy"].State)
	}
	select {
	case <-h.runner.Done():
		t.Fatal("runner done while the poststop task runs")
	default:
	}
	drv.Task("a1/cleanup").Exit(0)
	<-h.runner.Done()
	if ts := h.waitTask("cleanup", "dead", isDead).TaskStates["cleanup"]; ts.Failed {
		t.Fatalf("poststop %+v", ts)
	}
}

// A stop while the prestart task runs kills it; the main task never starts.
func TestStopDuringPrestart(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("service", quickFail,
		protocol.Task{Name: "main"},
		protocol.Task{Name: "init", Lifecycle: HookPrestart},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("init", "running", isRunning)
	h.runner.Stop()
	<-h.runner.Done()
	h.waitTask("main", "dead", isDead)
	if n := drv.Starts("a1/main"); n != 0 {
		t.Fatalf("main started %d times after a stop during prestart", n)
	}
}

// When the leader dies the other tasks are killed (Leader Task Dead); an
// ephemeral prestart's exit 0 kills nothing.
func TestLeaderDeadKillsOthers(t *testing.T) {
	drv := fake.New()
	a := hookAlloc("batch", quickFail,
		protocol.Task{Name: "main", Leader: true},
		protocol.Task{Name: "helper"},
		protocol.Task{Name: "init", Lifecycle: HookPrestart, Config: map[string]any{"exit_after": "1ms"}},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("helper", "running", isRunning)
	h.waitTask("main", "running", isRunning)
	drv.Task("a1/main").Exit(0)
	u := h.waitStatus(protocol.AllocComplete)
	if ts := u.TaskStates["helper"]; !slices.Contains(eventTypes(ts), protocol.EventLeaderDead) || ts.Failed {
		t.Fatalf("helper %+v", ts)
	}
}

// A task's own restart policy applies to it; the others keep the group's.
func TestTaskRestartPolicy(t *testing.T) {
	drv := fake.New()
	own := protocol.RestartPolicy{Attempts: 0, IntervalMs: 60_000, Mode: ModeFail}
	a := hookAlloc("service", protocol.RestartPolicy{Attempts: 5, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail},
		protocol.Task{Name: "main"},
		protocol.Task{Name: "flaky", Restart: &own},
	)
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitTask("flaky", "running", isRunning)
	h.waitTask("main", "running", isRunning)
	drv.Task("a1/main").Exit(1) // group policy: restarted
	eventually(t, 10*time.Second, func() error {
		if n := drv.Starts("a1/main"); n != 2 {
			return fmt.Errorf("main started %d times", n)
		}
		return nil
	})
	drv.Task("a1/flaky").Exit(1) // own policy: 0 attempts
	h.waitStatus(protocol.AllocFailed)
	if n := drv.Starts("a1/flaky"); n != 1 {
		t.Fatalf("flaky started %d times, want 1", n)
	}
}

// An agent restart after the prestart task finished re-attaches to main and
// does not run the prestart task again; one mid-prestart re-attaches to it
// and main still waits for it.
func TestAgentRestartAroundPrestart(t *testing.T) {
	for _, mid := range []bool{true, false} {
		t.Run(fmt.Sprintf("mid-prestart=%v", mid), func(t *testing.T) {
			drv := fake.New()
			store := newMemStore()
			a := hookAlloc("service", quickFail,
				protocol.Task{Name: "main"},
				protocol.Task{Name: "init", Lifecycle: HookPrestart},
			)
			h := startRunner(t, a, drv, store, nil, nil)
			h.waitTask("init", "running", isRunning)
			if !mid {
				drv.Task("a1/init").Exit(0)
				h.waitTask("main", "running", isRunning)
			}
			h.cancel() // agent shutdown: tasks keep running
			<-h.runner.Done()
			prev := h.last()
			handles := map[string]drivers.HandleState{}
			for _, n := range []string{"main", "init"} {
				if st, ok := store.get("a1", n); ok {
					handles[n] = st
				}
			}
			h2 := startRunner(t, a, drv, store, &prev, handles)
			if mid {
				h2.waitTask("init", "re-attached", func(ts protocol.TaskState) bool {
					return isRunning(ts) && ts.Events[len(ts.Events)-1].Type == protocol.EventReattached
				})
				if n := drv.Starts("a1/main"); n != 0 {
					t.Fatalf("main started %d times while the re-attached prestart runs", n)
				}
				drv.Task("a1/init").Exit(0)
			}
			h2.waitTask("main", "running", isRunning)
			if n := drv.Starts("a1/init"); n != 1 {
				t.Fatalf("prestart started %d times, want 1", n)
			}
			if n := drv.Starts("a1/main"); n != 1 {
				t.Fatalf("main started %d times, want 1", n)
			}
		})
	}
}

func TestPlanLifecycle(t *testing.T) {
	tasks := []protocol.Task{
		{Name: "init", Lifecycle: HookPrestart},
		{Name: "proxy", Lifecycle: HookPrestart, Sidecar: true},
		{Name: "main"},
		{Name: "post", Lifecycle: HookPoststart},
		{Name: "stop", Lifecycle: HookPoststop},
	}
	st := func(kv ...string) map[string]protocol.TaskState {
		m := map[string]protocol.TaskState{}
		for i := 0; i < len(kv); i += 2 {
			s := protocol.TaskState{State: kv[i+1]}
			switch kv[i+1] {
			case "failed":
				s = protocol.TaskState{State: protocol.TaskDead, Failed: true, StartedAt: 1}
			case protocol.TaskRunning:
				s.StartedAt = 1
			case "done":
				s = protocol.TaskState{State: protocol.TaskDead, StartedAt: 1}
			}
			m[kv[i]] = s
		}
		return m
	}
	P, R, D := protocol.TaskPending, protocol.TaskRunning, "done"
	tests := []struct {
		name     string
		states   map[string]protocol.TaskState
		stopping bool
		start    []string
		kill     map[string]string
	}{
		{"fresh", st("init", P, "proxy", P, "main", P, "post", P, "stop", P), false,
			[]string{"init", "proxy"}, map[string]string{}},
		{"init done, sidecar not yet running", st("init", D, "proxy", P, "main", P, "post", P, "stop", P), false,
			[]string{"init", "proxy"}, map[string]string{}},
		{"prestart done", st("init", D, "proxy", R, "main", P, "post", P, "stop", P), false,
			[]string{"init", "proxy", "main"}, map[string]string{}},
		{"main running", st("init", D, "proxy", R, "main", R, "post", P, "stop", P), false,
			[]string{"init", "proxy", "main", "post"}, map[string]string{}},
		{"main done, poststart runs", st("init", D, "proxy", R, "main", D, "post", R, "stop", P), false,
			[]string{"init", "proxy", "main", "post"}, map[string]string{}},
		{"work done: sidecar killed", st("init", D, "proxy", R, "main", D, "post", D, "stop", P), false,
			[]string{"init", "proxy", "main", "post"}, map[string]string{"proxy": ""}},
		{"all dead: poststop", st("init", D, "proxy", D, "main", D, "post", D, "stop", P), false,
			[]string{"init", "proxy", "post", "stop"}, map[string]string{}},
		{"prestart failed", st("init", "failed", "proxy", R, "main", P, "post", P, "stop", P), false,
			[]string{"init", "proxy"}, map[string]string{"proxy": protocol.EventSiblingFailed, "main": protocol.EventSiblingFailed, "post": protocol.EventSiblingFailed}},
		{"stop", st("init", D, "proxy", R, "main", R, "post", R, "stop", P), true,
			[]string{"init", "proxy", "main", "post"}, map[string]string{"main": "", "post": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planLifecycle(tasks, tt.states, tt.stopping)
			sort.Strings(p.start)
			sort.Strings(tt.start)
			if !reflect.DeepEqual(p.start, tt.start) || !reflect.DeepEqual(p.kill, tt.kill) {
				t.Fatalf("start %v kill %v, want %v %v", p.start, p.kill, tt.start, tt.kill)
			}
		})
	}
}
