// Package drivers defines how the agent runs a task: a small Driver that
// starts or re-attaches to a task and returns a Handle to wait on, stop and
// inspect it. Implementations live in drivers/exec, drivers/wasm,
// drivers/podman; drivers/fake is an in-memory one for unit tests.
//
// The agent's task runner drives it like this:
//
//	h, err := d.Start(ctx, cfg)          // or d.Recover(ctx, savedState) after an agent restart
//	save(h.State())                       // persisted so a new agent can Recover it
//	select {
//	case res := <-h.Wait():               // the task exited: res.ExitCode, res.Signal
//	case <-stop: h.Stop(timeout, "SIGTERM")
//	}
//
// Optional abilities (stats, exec into a task, signals) are separate
// one-method interfaces found by type assertion on the Handle.
package drivers

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tether-edge/tether/drivers/logfile"
)

// Sentinel errors shared by every driver.
var (
	// ErrTaskGone is returned by Recover when the task no longer exists.
	ErrTaskGone = errors.New("driver: task is gone")
	// ErrUnavailable is returned by Detect when the driver cannot run tasks here.
	ErrUnavailable = errors.New("driver: unavailable on this node")
)

// Driver runs tasks of one kind. Its methods are safe for concurrent use.
type Driver interface {
	// Name is the driver's name in job files: "exec", "wasm", "podman".
	Name() string
	// Detect reports whether the driver can run tasks on this node now, with
	// attributes to add to the node's fingerprint (driver.<name>.*).
	Detect(ctx context.Context) (map[string]string, error)
	// Start starts a task and returns once it is running (or failed to start).
	Start(ctx context.Context, cfg *TaskConfig) (Handle, error)
	// Recover re-attaches to a task started by an earlier agent process, from
	// the state its Handle reported. It returns ErrTaskGone (wrapped) if the
	// task no longer exists; the caller then treats it as exited.
	Recover(ctx context.Context, st HandleState) (Handle, error)
}

// Handle is a running task. Its methods are safe for concurrent use.
type Handle interface {
	// Wait returns a channel that yields exactly one ExitResult when the task
	// exits, then is closed.
	Wait() <-chan ExitResult
	// Stop sends signal (empty: SIGTERM) and, if the task is still running
	// after timeout, kills it. It returns when the task has exited.
	Stop(timeout time.Duration, signal string) error
	// State is what the agent persists to Recover the task later.
	State() HandleState
}

// Signaler is a Handle that can deliver a signal to its task (templates'
// change_mode = "signal").
type Signaler interface {
	Signal(signal string) error
}

// Cleaner is a Driver that can remove what it left behind for allocations
// the agent no longer knows (containers of allocations lost with a state
// file, or stopped while the agent was down). The agent calls it once at
// start, after re-attaching its tasks.
type Cleaner interface {
	Cleanup(ctx context.Context, known func(allocID string) bool) (removed []string, err error)
}

// Statser is a Handle that reports resource usage.
type Statser interface {
	Stats() (Usage, error)
}

// Execer is a Handle that can run another command in its task's context
// (`central alloc exec`): the task's user, environment, working directory
// and cgroup (exec), or inside its container (podman). Exec returns the
// command's exit code when it exits; when ctx ends first, the command is
// killed and ctx's error returned.
type Execer interface {
	Exec(ctx context.Context, opts ExecOptions) (exitCode int, err error)
}

// ExecOptions is one command to run in a task.
type ExecOptions struct {
	Command []string
	TTY     bool            // run on a pseudo-terminal: Stdout gets all output
	Size    TermSize        // the terminal's first size (TTY)
	Resize  <-chan TermSize // later sizes (TTY); nil: none
	// Stdin is copied to the command; its end (io.EOF) closes the
	// command's stdin. Nil: the command's stdin is empty.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer // unused with TTY
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Width, Height uint16 }

// Usage is a task's resource usage: the memory it holds now and the CPU
// time it has used since it started (user + system, all its processes).
// NoCPU says the driver cannot measure CPU time (wasm): CPUSeconds is 0.
type Usage struct {
	RSSBytes   uint64
	CPUSeconds float64
	NoCPU      bool
}

// TaskConfig is everything a driver needs to start one task.
type TaskConfig struct {
	ID        string // unique: <alloc id>/<task name>
	AllocID   string
	TaskName  string
	JobID     string
	AllocDir  string // the alloc's shared dir: <alloc>/alloc
	TaskDir   string // the task's working dir: <alloc>/<task>
	LocalDir  string // <alloc>/<task>/local
	SecretDir string // <alloc>/<task>/secrets
	// StdoutPath and StderrPath name the task's log streams: the driver
	// writes <path>.0, <path>.1, ... (Nomad's <task>.stdout.N) through
	// drivers/logfile, bounded by Logs. Empty: the output is discarded.
	StdoutPath string
	StderrPath string
	Logs       logfile.Policy
	Env        map[string]string // fully resolved environment
	Config     map[string]any    // the task's driver config block
	User       string
	CPU        int // MHz
	MemoryMB   int
	Ports      []Port
}

// Port is a port mapping of the task's allocation.
type Port struct {
	Label string
	Value int // on the host
	To    int // inside the task (0: same as Value)
}

// HandleState is the serialisable identity of a running task.
type HandleState struct {
	Driver    string `cbor:"0,keyasint"`
	TaskID    string `cbor:"1,keyasint"`
	StartedAt int64  `cbor:"2,keyasint"` // unix ms
	// Data is the driver's own record (pid and process start time, container
	// id, ...), opaque to the agent.
	Data []byte `cbor:"3,keyasint,omitempty"`
}

// ExitResult is how a task ended.
type ExitResult struct {
	ExitCode  int
	Signal    int // the signal that killed it, 0 if none
	OOMKilled bool
	// Err is set when the driver lost track of the task (its exit code is
	// then unknown) or the task could not run at all.
	Err error
}

// Successful reports whether the task exited 0 of its own accord.
func (r ExitResult) Successful() bool {
	return r.ExitCode == 0 && r.Signal == 0 && !r.OOMKilled && r.Err == nil
}
