package allocrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func TestBatchPendingRunningComplete(t *testing.T) {
	drv := fake.New()
	h := startRunner(t, oneTask("a1", "batch", map[string]any{"exit_after": "30ms"}, protocol.RestartPolicy{Attempts: 3, DelayMs: 1, Mode: ModeFail}), drv, newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocComplete)
	<-h.runner.Done()
	if got := h.statuses(); !reflect.DeepEqual(got, []string{"pending", "running", "complete"}) {
		t.Fatalf("statuses %v", got)
	}
	ts := u.TaskStates["t"]
	if want := []string{"Received", "Task Setup", "Started", "Terminated"}; !reflect.DeepEqual(eventTypes(ts), want) {
		t.Fatalf("events %v, want %v", eventTypes(ts), want)
	}
	if ts.State != protocol.TaskDead || ts.Failed || ts.Restarts != 0 || drv.Starts("a1/t") != 1 {
		t.Fatalf("task state %+v starts %d", ts, drv.Starts("a1/t"))
	}
	if _, ok := h.store.get("a1", "t"); ok {
		t.Fatal("handle of an exited task still saved")
	}
}

func TestRestartModeFail(t *testing.T) {
	drv := fake.New()
	rp := protocol.RestartPolicy{Attempts: 2, IntervalMs: 60_000, DelayMs: 5, Mode: ModeFail}
	h := startRunner(t, oneTask("a1", "service", map[string]any{"exit_after": "10ms", "exit_code": 3}, rp), drv, newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocFailed)
	ts := u.TaskStates["t"]
	if drv.Starts("a1/t") != 3 || ts.Restarts != 2 || !ts.Failed || ts.State != protocol.TaskDead || ts.ExitCode != 3 {
		t.Fatalf("starts %d, state %+v", drv.Starts("a1/t"), ts)
	}
	types := eventTypes(ts)
	if types[len(types)-1] != protocol.EventNotRestarting || countEvents(types, protocol.EventRestarting) != 2 {
		t.Fatalf("events %v", types)
	}
}

func TestRestartModeDelayKeepsTrying(t *testing.T) {
	drv := fake.New()
	rp := protocol.RestartPolicy{Attempts: 1, IntervalMs: 150, DelayMs: 5, Mode: ModeDelay}
	h := startRunner(t, oneTask("a1", "service", map[string]any{"exit_after": "10ms", "exit_code": 1}, rp), drv, newMemStore(), nil, nil)
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n < 4 {
			return fmt.Errorf("%d starts", n)
		}
		return nil
	})
	for _, s := range h.statuses() {
		if s == protocol.AllocFailed || s == protocol.AllocComplete {
			t.Fatalf("mode delay reached %s: %v", s, h.statuses())
		}
	}
	if !strings.Contains(fmt.Sprint(h.last().TaskStates["t"].Events), "mode is \"delay\"") &&
		!strings.Contains(fmt.Sprint(h.updatesEvents()), "mode is \"delay\"") {
		t.Fatal("no delay-mode restart event")
	}
}

func (h *harness) updatesEvents() []protocol.TaskEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []protocol.TaskEvent
	for _, u := range h.updates {
		out = append(out, u.TaskStates["t"].Events...)
	}
	return out
}

func TestServiceRestartsOnSuccess(t *testing.T) {
	drv := fake.New()
	rp := protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail}
	h := startRunner(t, oneTask("a1", "service", map[string]any{"exit_after": "10ms"}, rp), drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocFailed) // exit 0 restarted once, then out of attempts
	if drv.Starts("a1/t") != 2 {
		t.Fatalf("starts %d, want 2", drv.Starts("a1/t"))
	}
}

func TestUnknownDriver(t *testing.T) {
	a := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 3})
	a.Tasks[0].Driver = "dockr"
	h := startRunner(t, a, fake.New(), newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocFailed)
	ev := u.TaskStates["t"].Events
	if len(ev) != 1 || ev[0].Type != protocol.EventDriverFailure || !strings.Contains(ev[0].Message, `unknown driver "dockr" (known: fake)`) {
		t.Fatalf("events %+v", ev)
	}
}

func TestStartErrorIsRestarted(t *testing.T) {
	drv := fake.New()
	rp := protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail}
	h := startRunner(t, oneTask("a1", "service", map[string]any{"start_error": "boom"}, rp), drv, newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocFailed)
	if drv.Starts("a1/t") != 2 || !strings.Contains(fmt.Sprint(u.TaskStates["t"].Events), "Driver Failure") {
		t.Fatalf("starts %d events %v", drv.Starts("a1/t"), eventTypes(u.TaskStates["t"]))
	}
}

func TestStopKillsWithSignal(t *testing.T) {
	drv := fake.New()
	a := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 3, Mode: ModeFail})
	a.Tasks[0].KillSignal = "SIGINT"
	a.Tasks[0].KillTimeout = 1000
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	h.runner.Stop()
	u := h.waitStatus(protocol.AllocComplete)
	<-h.runner.Done()
	if sig := drv.Task("a1/t").Signals(); len(sig) != 1 || sig[0] != "SIGINT" {
		t.Fatalf("signals %v", sig)
	}
	types := eventTypes(u.TaskStates["t"])
	if types[len(types)-2] != protocol.EventKilling || types[len(types)-1] != protocol.EventKilled {
		t.Fatalf("events %v", types)
	}
	if u.TaskStates["t"].Failed {
		t.Fatal("stopped task marked failed")
	}
}

func TestSiblingFailure(t *testing.T) {
	drv := fake.New()
	a := &protocol.DesiredAlloc{
		ID: "a1", JobType: "service", Restart: protocol.RestartPolicy{Attempts: 0, Mode: ModeFail},
		Tasks: []protocol.Task{
			{Name: "bad", Driver: "fake", Config: map[string]any{"exit_after": "20ms", "exit_code": 2}},
			{Name: "good", Driver: "fake"},
		},
	}
	h := startRunner(t, a, drv, newMemStore(), nil, nil)
	eventually(t, 5*time.Second, func() error {
		u := h.last()
		if u.ClientStatus != protocol.AllocFailed || u.TaskStates["good"].State != protocol.TaskDead {
			return fmt.Errorf("status %s good=%s", u.ClientStatus, u.TaskStates["good"].State)
		}
		return nil
	})
	if !strings.Contains(strings.Join(eventTypes(h.last().TaskStates["good"]), ","), protocol.EventSiblingFailed) {
		t.Fatalf("good events %v", eventTypes(h.last().TaskStates["good"]))
	}
}

// recordingDriver is the fake driver that also accepts and records any
// config block (the fake itself rejects keys it does not know).
type recordingDriver struct {
	*fake.Driver
	mu   sync.Mutex // guards last
	last *drivers.TaskConfig
}

func (d *recordingDriver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	c := *cfg
	d.mu.Lock()
	d.last = &c
	d.mu.Unlock()
	inner := *cfg
	inner.Config = nil
	return d.Driver.Start(ctx, &inner)
}

func countEvents(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

func TestTaskConfigEnvAndDirs(t *testing.T) {
	drv := &recordingDriver{Driver: fake.New()}
	a := oneTask("a1", "service", map[string]any{"args": []any{"${NOMAD_ADDR_http}", "${attr.cpu.arch}"}}, protocol.RestartPolicy{})
	a.Ports = []protocol.Port{{Label: "http", Value: 8080}}
	a.Tasks[0].Env = map[string]string{"WHO": "${node.unique.name}"}
	h := startRunnerWith(t, a, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	drv.mu.Lock()
	cfg := *drv.last
	drv.mu.Unlock()
	base := h.runner.AllocDir()
	if cfg.TaskDir != filepath.Join(base, "t") || cfg.LocalDir != filepath.Join(base, "t", "local") ||
		cfg.StdoutPath != filepath.Join(base, "alloc", "logs", "t.stdout") || cfg.StderrPath != filepath.Join(base, "alloc", "logs", "t.stderr") {
		t.Fatalf("paths %+v", cfg)
	}
	for _, d := range []string{"alloc", "alloc/logs", "t/local", "t/secrets", "t/tmp"} {
		if st, err := os.Stat(filepath.Join(base, d)); err != nil || !st.IsDir() {
			t.Fatalf("dir %s: %v", d, err)
		}
	}
	if cfg.Env["WHO"] != "pi" || cfg.Env["NOMAD_TASK_DIR"] != cfg.LocalDir || cfg.Env["TETHER_ALLOC_ID"] != "a1" || cfg.Env["PATH"] != "/bin" {
		t.Fatalf("env %v", cfg.Env)
	}
	if !reflect.DeepEqual(cfg.Config["args"], []any{"127.0.0.1:8080", "arm"}) {
		t.Fatalf("config %v", cfg.Config)
	}
	if a.Tasks[0].Config["args"].([]any)[0] != "${NOMAD_ADDR_http}" {
		t.Fatal("desired alloc modified")
	}
}

func TestDetachAndReattach(t *testing.T) {
	drv := fake.New()
	store := newMemStore()
	a := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 3, Mode: ModeFail})
	h := startRunner(t, a, drv, store, nil, nil)
	prev := h.waitStatus(protocol.AllocRunning)
	h.cancel() // agent shutdown
	<-h.runner.Done()
	if drv.Task("a1/t").Exited() {
		t.Fatal("detach killed the task")
	}
	saved, ok := store.get("a1", "t")
	if !ok {
		t.Fatal("no handle saved")
	}

	h2 := startRunner(t, a, drv, store, &prev, map[string]drivers.HandleState{"t": saved})
	eventually(t, 5*time.Second, func() error {
		u := h2.last()
		types := eventTypes(u.TaskStates["t"])
		if u.ClientStatus != protocol.AllocRunning || types[len(types)-1] != protocol.EventReattached {
			return fmt.Errorf("status %s events %v", u.ClientStatus, types)
		}
		return nil
	})
	if n := drv.Starts("a1/t"); n != 1 {
		t.Fatalf("task started %d times, want 1 (re-attached, not restarted)", n)
	}
	// The re-attached task is still watched: its exit is seen.
	drv.Task("a1/t").Exit(0)
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 2 {
			return fmt.Errorf("starts %d", n)
		}
		return nil
	})
}

func TestRecoverGoneAppliesRestartPolicy(t *testing.T) {
	drv := fake.New()
	store := newMemStore()
	a := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail})
	prev := &protocol.AllocUpdate{AllocID: "a1", ClientStatus: protocol.AllocRunning, TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning}}}
	handles := map[string]drivers.HandleState{"t": {Driver: "fake", TaskID: "a1/t", Data: []byte("a1/t")}}
	h := startRunner(t, a, drv, store, prev, handles)
	u := h.waitStatus(protocol.AllocRunning)
	eventually(t, 5*time.Second, func() error {
		if drv.Starts("a1/t") != 1 {
			return fmt.Errorf("starts %d", drv.Starts("a1/t"))
		}
		return nil
	})
	u = h.waitStatus(protocol.AllocRunning)
	types := strings.Join(eventTypes(u.TaskStates["t"]), ",")
	if !strings.Contains(types, "Terminated,Restarting,Started") || u.TaskStates["t"].Restarts != 1 {
		t.Fatalf("events %s restarts %d", types, u.TaskStates["t"].Restarts)
	}
}

func TestRestoredDeadTaskStaysDead(t *testing.T) {
	drv := fake.New()
	a := oneTask("a1", "batch", nil, protocol.RestartPolicy{})
	prev := &protocol.AllocUpdate{AllocID: "a1", ClientStatus: protocol.AllocRunning, TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskDead}}}
	h := startRunner(t, a, drv, newMemStore(), prev, nil)
	h.waitStatus(protocol.AllocComplete)
	<-h.runner.Done()
	if drv.Starts("a1/t") != 0 {
		t.Fatal("dead task restarted")
	}
}

func TestClientStatus(t *testing.T) {
	run, pend := protocol.TaskState{State: protocol.TaskRunning}, protocol.TaskState{State: protocol.TaskPending}
	ok, bad := protocol.TaskState{State: protocol.TaskDead}, protocol.TaskState{State: protocol.TaskDead, Failed: true}
	tests := []struct {
		tasks map[string]protocol.TaskState
		want  string
	}{
		{map[string]protocol.TaskState{"a": pend}, protocol.AllocPending},
		{map[string]protocol.TaskState{"a": run, "b": pend}, protocol.AllocRunning},
		{map[string]protocol.TaskState{"a": run, "b": run}, protocol.AllocRunning},
		{map[string]protocol.TaskState{"a": ok, "b": run}, protocol.AllocRunning},
		{map[string]protocol.TaskState{"a": ok, "b": ok}, protocol.AllocComplete},
		{map[string]protocol.TaskState{"a": bad, "b": run}, protocol.AllocFailed},
		{map[string]protocol.TaskState{"a": ok, "b": pend}, protocol.AllocPending},
	}
	for i, tt := range tests {
		if got, _ := ClientStatus(tt.tasks); got != tt.want {
			t.Errorf("%d: %s, want %s", i, got, tt.want)
		}
	}
}

func TestRestartTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name   string
		policy protocol.RestartPolicy
		exits  []time.Duration // offsets from t0
		want   []string        // "r<delay>" or "stop"
	}{
		{"fail after attempts", protocol.RestartPolicy{Attempts: 2, IntervalMs: 10_000, DelayMs: 100, Mode: ModeFail},
			[]time.Duration{0, time.Second, 2 * time.Second}, []string{"r100ms", "r100ms", "stop"}},
		{"window resets", protocol.RestartPolicy{Attempts: 1, IntervalMs: 10_000, DelayMs: 100, Mode: ModeFail},
			[]time.Duration{0, 11 * time.Second, 12 * time.Second}, []string{"r100ms", "r100ms", "stop"}},
		{"delay waits for window end", protocol.RestartPolicy{Attempts: 1, IntervalMs: 10_000, DelayMs: 100, Mode: ModeDelay},
			[]time.Duration{0, 4 * time.Second, 10*time.Second + time.Millisecond}, []string{"r100ms", "r6s", "r100ms"}},
		{"zero attempts", protocol.RestartPolicy{Attempts: 0, Mode: ModeFail}, []time.Duration{0}, []string{"stop"}},
		{"zero interval never resets", protocol.RestartPolicy{Attempts: 1, DelayMs: 1, Mode: ModeFail},
			[]time.Duration{0, time.Hour}, []string{"r1ms", "stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := restartTracker{policy: tt.policy}
			for i, off := range tt.exits {
				d, again, _ := tr.next(t0.Add(off))
				got := "stop"
				if again {
					got = "r" + d.String()
				}
				if got != tt.want[i] {
					t.Fatalf("exit %d: %s, want %s", i, got, tt.want[i])
				}
			}
		})
	}
}

// A task's logs block reaches its driver: the bounds, or no log files at
// all when disabled.
func TestTaskConfigLogs(t *testing.T) {
	for _, c := range []struct {
		logs       *protocol.LogConfig
		stdout     string
		files, max int64
	}{
		{nil, "t.stdout", 0, 0},
		{&protocol.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1}, "t.stdout", 2, 1 << 20},
		{&protocol.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1, Disabled: true}, "", 2, 1 << 20},
	} {
		drv := &recordingDriver{Driver: fake.New()}
		a := oneTask("a1", "service", nil, protocol.RestartPolicy{})
		a.Tasks[0].Logs = c.logs
		h := startRunnerWith(t, a, drv, newMemStore(), nil, nil)
		h.waitStatus(protocol.AllocRunning)
		drv.mu.Lock()
		cfg := *drv.last
		drv.mu.Unlock()
		want := ""
		if c.stdout != "" {
			want = filepath.Join(h.runner.AllocDir(), "alloc", "logs", c.stdout)
		}
		if cfg.StdoutPath != want || (want == "") != (cfg.StderrPath == "") ||
			int64(cfg.Logs.MaxFiles) != c.files || cfg.Logs.MaxFileSize != c.max {
			t.Errorf("logs %+v: stdout %q stderr %q policy %+v; want stdout %q, %d files of %d bytes", c.logs, cfg.StdoutPath, cfg.StderrPath, cfg.Logs, want, c.files, c.max)
		}
	}
}
