package fake

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// Signal numbers the fake reports, as on Linux.
const (
	sigKill = 9
	sigTerm = 15
)

// FakeTask is one started task. Its methods are safe for concurrent use.
type FakeTask struct {
	driver     string
	cfg        *drivers.TaskConfig
	startedAt  time.Time
	ignoreStop bool
	timer      *time.Timer

	mu      sync.Mutex // guards result, exited, signals, stops, waiters
	result  drivers.ExitResult
	exited  bool
	signals []string
	stops   int
	waiters []chan drivers.ExitResult
	done    chan struct{} // closed on exit
}

// Config returns a copy of the config the task was started with.
func (t *FakeTask) Config() drivers.TaskConfig { return *t.cfg }

// Exit makes the task exit with code. Later calls do nothing.
func (t *FakeTask) Exit(code int) { t.ExitWith(drivers.ExitResult{ExitCode: code}) }

// ExitWith makes the task exit with res. Later calls do nothing.
func (t *FakeTask) ExitWith(res drivers.ExitResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return
	}
	t.exited = true
	t.result = res
	if t.timer != nil {
		t.timer.Stop()
	}
	for _, w := range t.waiters {
		w <- res
		close(w)
	}
	t.waiters = nil
	close(t.done)
}

// Exited reports whether the task has exited.
func (t *FakeTask) Exited() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exited
}

// Done is closed when the task exits.
func (t *FakeTask) Done() <-chan struct{} { return t.done }

// Signals returns the signals delivered by Signal and Stop, in order.
func (t *FakeTask) Signals() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.signals...)
}

// Stops returns how many times Stop was called.
func (t *FakeTask) Stops() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stops
}

func (t *FakeTask) newHandle() *handle { return &handle{t: t} }

// handle is one Start's or Recover's view of a FakeTask.
type handle struct {
	t *FakeTask

	once sync.Once
	ch   chan drivers.ExitResult
}

var (
	_ drivers.Handle   = (*handle)(nil)
	_ drivers.Signaler = (*handle)(nil)
)

func (h *handle) Wait() <-chan drivers.ExitResult {
	h.once.Do(func() {
		h.ch = make(chan drivers.ExitResult, 1)
		t := h.t
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.exited {
			h.ch <- t.result
			close(h.ch)
			return
		}
		t.waiters = append(t.waiters, h.ch)
	})
	return h.ch
}

func (h *handle) Stop(timeout time.Duration, signal string) error {
	if signal == "" {
		signal = "SIGTERM"
	}
	t := h.t
	t.mu.Lock()
	t.stops++
	if t.exited {
		t.mu.Unlock()
		return nil
	}
	t.signals = append(t.signals, signal)
	ignore := t.ignoreStop
	t.mu.Unlock()
	if !ignore {
		t.ExitWith(drivers.ExitResult{ExitCode: 128 + sigNum(signal), Signal: sigNum(signal)})
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.done:
		return nil
	case <-timer.C:
	}
	t.mu.Lock()
	t.signals = append(t.signals, "SIGKILL")
	t.mu.Unlock()
	t.ExitWith(drivers.ExitResult{ExitCode: 128 + sigKill, Signal: sigKill})
	return nil
}

func (h *handle) Signal(signal string) error {
	if signal == "" {
		return errors.New("fake: empty signal name; use e.g. \"SIGHUP\"")
	}
	t := h.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return fmt.Errorf("fake: task %q has exited", t.cfg.ID)
	}
	t.signals = append(t.signals, signal)
	return nil
}

func (h *handle) State() drivers.HandleState {
	return drivers.HandleState{
		Driver:    h.t.driver,
		TaskID:    h.t.cfg.ID,
		StartedAt: h.t.startedAt.UnixMilli(),
		Data:      []byte(h.t.cfg.ID),
	}
}

func sigNum(name string) int {
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return sigKill
	case "USR1":
		return 10
	case "USR2":
		return 12
	default:
		return sigTerm
	}
}
