package allocrunner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func TestWritePayloadFile(t *testing.T) {
	taskDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(taskDir, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writePayloadFile(taskDir, "in/put.json", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(taskDir, "local", "in", "put.json")); err != nil || string(b) != `{"n":1}` {
		t.Fatalf("payload file: %q, %v", b, err)
	}
	if err := writePayloadFile(taskDir, "../secrets/x", nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("escaping file accepted: %v", err)
	}
}

// A task (or an artifact) that planted a symlink in local/ pointing out of
// the task dir cannot make the agent write the payload there, and a
// symlink at the destination itself is replaced, not followed.
func TestWritePayloadFileRefusesSymlinks(t *testing.T) {
	taskDir, outside := t.TempDir(), t.TempDir()
	local := filepath.Join(taskDir, "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(local, "out")); err != nil {
		t.Fatal(err)
	}
	err := writePayloadFile(taskDir, "out/input.json", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("write through a symlink out of the task dir: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(outside, "input.json")); serr == nil {
		t.Fatal("the payload was written outside the task dir")
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(local, "input.json")); err != nil {
		t.Fatal(err)
	}
	if err := writePayloadFile(taskDir, "input.json", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("the write followed the symlink: victim now %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(local, "input.json")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("destination: %v, %v", fi, err)
	}
}

// startSeer records what a task's local/input.json holds when its driver
// is asked to start it.
type startSeer struct {
	*fake.Driver
	mu   sync.Mutex // guards seen
	seen map[string]string
}

func (s *startSeer) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	b, err := os.ReadFile(filepath.Join(cfg.LocalDir, "input.json"))
	s.mu.Lock()
	if err != nil {
		s.seen[cfg.TaskName] = "error: " + err.Error()
	} else {
		s.seen[cfg.TaskName] = string(b)
	}
	s.mu.Unlock()
	return s.Driver.Start(ctx, cfg)
}

// The payload is in local/<file> of each task with a DispatchFile when its
// driver starts it, and the dispatch's meta is in its environment; a task
// without a DispatchFile gets no file.
func TestRunnerWritesPayloadBeforeStart(t *testing.T) {
	drv := &startSeer{Driver: fake.New(), seen: map[string]string{}}
	alloc := oneTask("a1", "batch", map[string]any{"exit_after": "10ms"}, protocol.RestartPolicy{Mode: ModeFail})
	alloc.Payload = []byte(`{"frames": 24}`)
	alloc.Meta = map[string]string{"x": "1"}
	alloc.Tasks[0].DispatchFile = "input.json"
	alloc.Tasks = append(alloc.Tasks, protocol.Task{Name: "other", Driver: "fake", Config: map[string]any{"exit_after": "10ms"}})
	h := startRunnerWith(t, alloc, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocComplete)
	drv.mu.Lock()
	defer drv.mu.Unlock()
	if got := drv.seen["t"]; got != `{"frames": 24}` {
		t.Errorf("task t at start: local/input.json = %q", got)
	}
	if got := drv.seen["other"]; !strings.HasPrefix(got, "error: ") {
		t.Errorf("task without dispatch_payload has local/input.json = %q", got)
	}
	if env := drv.Task("a1/t").Config().Env; env["NOMAD_META_x"] != "1" || env["NOMAD_META_X"] != "1" {
		t.Errorf("meta env: NOMAD_META_x=%q NOMAD_META_X=%q", env["NOMAD_META_x"], env["NOMAD_META_X"])
	}
}
