package allocrunner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type memStore struct {
	mu      sync.Mutex // guards handles
	handles map[string]drivers.HandleState
}

func newMemStore() *memStore { return &memStore{handles: map[string]drivers.HandleState{}} }

func (m *memStore) PutHandle(a, t string, st drivers.HandleState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handles[a+"/"+t] = st
	return nil
}

func (m *memStore) DeleteHandle(a, t string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.handles, a+"/"+t)
	return nil
}

func (m *memStore) get(a, t string) (drivers.HandleState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.handles[a+"/"+t]
	return h, ok
}

// harness runs one Runner and records every update it sends.
type harness struct {
	t      *testing.T
	drv    *fake.Driver
	store  *memStore
	runner *Runner
	cancel context.CancelFunc

	mu      sync.Mutex // guards updates
	updates []protocol.AllocUpdate
}

func startRunner(t *testing.T, alloc *protocol.DesiredAlloc, drv *fake.Driver, store *memStore, prev *protocol.AllocUpdate, handles map[string]drivers.HandleState) *harness {
	t.Helper()
	h := startRunnerWith(t, alloc, drv, store, prev, handles)
	h.drv = drv
	return h
}

func startRunnerWith(t *testing.T, alloc *protocol.DesiredAlloc, drv drivers.Driver, store *memStore, prev *protocol.AllocUpdate, handles map[string]drivers.HandleState) *harness {
	t.Helper()
	return startRunnerOpts(t, alloc, drv, store, prev, handles, nil)
}

// startRunnerOpts is startRunnerWith with a hook to change the Config.
func startRunnerOpts(t *testing.T, alloc *protocol.DesiredAlloc, drv drivers.Driver, store *memStore, prev *protocol.AllocUpdate, handles map[string]drivers.HandleState, mutate func(*Config)) *harness {
	t.Helper()
	ch := make(chan Update)
	h := &harness{t: t, store: store}
	cfg := Config{
		Alloc: alloc, Prev: prev, Handles: handles,
		Drivers:   map[string]drivers.Driver{drv.Name(): drv},
		Node:      taskenv.Node{ID: "node-1", Name: "pi", Datacenter: "dc1", Attributes: map[string]string{"cpu.arch": "arm"}},
		AllocsDir: t.TempDir(),
		Store:     store,
		Updates:   ch,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		LookupEnv: func(k string) (string, bool) { return map[string]string{"PATH": "/bin"}[k], k == "PATH" },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.runner, h.cancel = r, cancel
	go r.Run(ctx)
	go func() {
		for {
			select {
			case u := <-ch:
				h.mu.Lock()
				h.updates = append(h.updates, u.Client)
				h.mu.Unlock()
			case <-r.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-r.Done() })
	return h
}

// all returns every update so far.
func (h *harness) all() []protocol.AllocUpdate {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]protocol.AllocUpdate(nil), h.updates...)
}

func (h *harness) last() protocol.AllocUpdate {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.updates) == 0 {
		return protocol.AllocUpdate{}
	}
	return h.updates[len(h.updates)-1]
}

// statuses is the sequence of distinct client statuses seen.
func (h *harness) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, u := range h.updates {
		if len(out) == 0 || out[len(out)-1] != u.ClientStatus {
			out = append(out, u.ClientStatus)
		}
	}
	return out
}

func (h *harness) waitStatus(status string) protocol.AllocUpdate {
	h.t.Helper()
	eventually(h.t, 5*time.Second, func() error {
		if got := h.last().ClientStatus; got != status {
			return fmt.Errorf("status %q, want %q", got, status)
		}
		return nil
	})
	return h.last()
}

func eventTypes(ts protocol.TaskState) []string {
	var out []string
	for _, e := range ts.Events {
		out = append(out, e.Type)
	}
	return out
}

func oneTask(id, jobType string, cfg map[string]any, rp protocol.RestartPolicy) *protocol.DesiredAlloc {
	return &protocol.DesiredAlloc{
		ID: id, JobID: "job", TaskGroup: "g", JobType: jobType, DesiredStatus: protocol.DesiredRun, Restart: rp,
		Tasks: []protocol.Task{{Name: "t", Driver: "fake", Config: cfg}},
	}
}
