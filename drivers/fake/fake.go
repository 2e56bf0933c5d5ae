package fake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// ErrStartFailed wraps the message of Config["start_error"].
var ErrStartFailed = errors.New("fake: start failed")

// Driver is the fake driver. The zero value is not usable; call New.
type Driver struct {
	name string

	mu        sync.Mutex // guards the fields below
	tasks     map[string]*FakeTask
	starts    map[string]int
	detect    map[string]string
	detectErr error
}

var _ drivers.Driver = (*Driver)(nil)

// New returns a fake driver named "fake".
func New() *Driver { return NewNamed("fake") }

// NewNamed returns a fake driver that reports the given name, so a test can
// stand it in for "exec" or "wasm".
func NewNamed(name string) *Driver {
	return &Driver{
		name:   name,
		tasks:  map[string]*FakeTask{},
		starts: map[string]int{},
		detect: map[string]string{"driver." + name: "1"},
	}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return d.name }

// SetDetect sets what Detect returns from now on.
func (d *Driver) SetDetect(attrs map[string]string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.detect = copyMap(attrs)
	d.detectErr = err
}

// Detect implements drivers.Driver.
func (d *Driver) Detect(ctx context.Context) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return copyMap(d.detect), d.detectErr
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("fake: task config has no ID")
	}
	if err := drivers.CheckConfigKeys("fake", cfg.Config, "start_error", "exit_after", "exit_code", "ignore_stop"); err != nil {
		return nil, err
	}
	msg, hasErr, err := drivers.ConfigString(cfg.Config, "start_error")
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	after, hasAfter, err := drivers.ConfigDuration(cfg.Config, "exit_after")
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	code, _, err := drivers.ConfigInt(cfg.Config, "exit_code")
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	ignore, _, err := drivers.ConfigBool(cfg.Config, "ignore_stop")
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.starts[cfg.ID]++
	if hasErr {
		return nil, fmt.Errorf("%w: %s", ErrStartFailed, msg)
	}
	if old := d.tasks[cfg.ID]; old != nil && !old.Exited() {
		return nil, fmt.Errorf("fake: task %q is already running; stop it first", cfg.ID)
	}
	c := *cfg
	t := &FakeTask{
		driver:     d.name,
		cfg:        &c,
		startedAt:  time.Now(),
		ignoreStop: ignore,
		done:       make(chan struct{}),
	}
	d.tasks[cfg.ID] = t
	if hasAfter {
		t.mu.Lock() // the timer may fire before AfterFunc returns: ExitWith reads t.timer
		t.timer = time.AfterFunc(after, func() { t.Exit(int(code)) })
		t.mu.Unlock()
	}
	return t.newHandle(), nil
}

// Recover implements drivers.Driver: it re-attaches to a task this Driver
// started and that has not exited.
func (d *Driver) Recover(ctx context.Context, st drivers.HandleState) (drivers.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	t := d.tasks[string(st.Data)]
	d.mu.Unlock()
	if t == nil || t.Exited() || st.TaskID != t.cfg.ID {
		return nil, fmt.Errorf("fake: recover %q: %w", st.TaskID, drivers.ErrTaskGone)
	}
	return t.newHandle(), nil
}

// Task returns the task last started with this ID, or nil.
func (d *Driver) Task(id string) *FakeTask {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tasks[id]
}

// Tasks returns the IDs of all tasks ever started, sorted.
func (d *Driver) Tasks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.tasks))
	for id := range d.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Starts returns how many times Start was called for this ID (failed starts
// included).
func (d *Driver) Starts(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts[id]
}

// Forget drops every task from the driver, as if the node rebooted: Recover
// then returns ErrTaskGone. Running tasks' handles are left untouched.
func (d *Driver) Forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks = map[string]*FakeTask{}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
