//go:build linux

package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// killWait bounds how long Stop waits for a task to die after SIGKILL (a
// process stuck in uninterruptible sleep cannot be killed).
const killWait = 30 * time.Second

// handle is a running task. One goroutine (the child waiter or the tracer)
// learns the exit and calls exited once.
type handle struct {
	d         *Driver
	taskID    string
	startedAt time.Time
	sd        stateData
	traced    bool // re-attached with ptrace (set before the handle is shared)

	done    chan struct{}           // closed by exited
	rotated chan struct{}           // closed when the log rotator has made its last pass; nil when none runs
	waitCh  chan drivers.ExitResult // cap 1: the one result, then closed

	mu     sync.Mutex // guards result
	result drivers.ExitResult
}

var (
	_ drivers.Handle   = (*handle)(nil)
	_ drivers.Signaler = (*handle)(nil)
	_ drivers.Statser  = (*handle)(nil)
)

func newHandle(d *Driver, taskID string, startedAt time.Time, sd stateData) *handle {
	h := &handle{
		d: d, taskID: taskID, startedAt: startedAt, sd: sd,
		done:   make(chan struct{}),
		waitCh: make(chan drivers.ExitResult, 1),
	}
	if sd.Logs != nil {
		h.rotated = make(chan struct{}) // rotateLogs must be called once the task is watched
	}
	return h
}

// rotateLogs keeps the task's log files within their bounds until it
// exits: the task holds its file open, so they are rotated by copy and
// truncate (logfile.Watch) on one goroutine per task.
func (h *handle) rotateLogs() {
	l := h.sd.Logs
	if l == nil {
		return
	}
	var bases []string
	for _, b := range []string{l.Stdout, l.Stderr} {
		if b != "" {
			bases = append(bases, b)
		}
	}
	onErr := func(err error) { h.d.log.Warn("exec driver: rotate task log: "+err.Error(), "task", h.taskID) }
	go func() {
		defer close(h.rotated)
		logfile.Watch(h.done, logfile.Policy{MaxFiles: l.MaxFiles, MaxFileSize: l.MaxFileSize}, onErr, bases...)
	}()
}

// exited records the task's exit: it kills what is left of its process
// group and cgroup, removes the cgroup, and publishes the result.
func (h *handle) exited(res drivers.ExitResult) {
	_ = unix.Kill(-h.sd.Pgid, syscall.SIGKILL) // leftovers of the group; ESRCH when none
	if cg := h.d.cg; cg != nil && h.sd.Cgroup != "" {
		if cg.oomKills(h.sd.Cgroup) > 0 {
			res.OOMKilled = true
		}
		if err := cg.remove(h.sd.Cgroup); err != nil {
			h.d.log.Warn("exec driver: "+err.Error(), "task", h.taskID)
		}
	}
	h.mu.Lock()
	h.result = res
	h.mu.Unlock()
	close(h.done)
	if h.rotated != nil {
		// The rotator's last pass touches the log files: whoever waits
		// for the exit may remove them next (alloc GC, a test's TempDir).
		<-h.rotated
	}
	h.waitCh <- res
	close(h.waitCh)
	h.d.log.Info("task exited", "task", h.taskID, "pid", h.sd.Pid, "code", res.ExitCode, "signal", res.Signal, "oom", res.OOMKilled, "err", res.Err)
}

// Wait implements drivers.Handle.
func (h *handle) Wait() <-chan drivers.ExitResult { return h.waitCh }

// State implements drivers.Handle.
func (h *handle) State() drivers.HandleState {
	return drivers.HandleState{
		Driver:    "exec",
		TaskID:    h.taskID,
		StartedAt: h.startedAt.UnixMilli(),
		Data:      h.sd.encode(),
	}
}

func (h *handle) isDone() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Signal implements drivers.Signaler: it signals the whole process group.
func (h *handle) Signal(name string) error {
	sig, err := ParseSignal(name)
	if err != nil {
		return err
	}
	if h.isDone() {
		return fmt.Errorf("exec: task %q has exited", h.taskID)
	}
	if err := unix.Kill(-h.sd.Pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("exec: signal task %q: %w", h.taskID, err)
	}
	return nil
}

// Stop implements drivers.Handle: signal (default SIGTERM) to the process
// group, then SIGKILL to the group and cgroup after timeout.
func (h *handle) Stop(timeout time.Duration, signal string) error {
	sig, err := ParseSignal(signal)
	if err != nil {
		return err
	}
	if h.isDone() {
		return nil
	}
	if err := unix.Kill(-h.sd.Pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("exec: stop task %q: %w", h.taskID, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-h.done:
		return nil
	case <-t.C:
	}
	h.kill()
	k := time.NewTimer(killWait)
	defer k.Stop()
	select {
	case <-h.done:
		return nil
	case <-k.C:
		return fmt.Errorf("exec: task %q (pid %d) did not exit %v after SIGKILL", h.taskID, h.sd.Pid, killWait)
	}
}

func (h *handle) kill() {
	_ = unix.Kill(-h.sd.Pgid, syscall.SIGKILL)
	if h.sd.Cgroup != "" {
		killAll(h.sd.Cgroup)
	}
}

// Stats implements drivers.Statser: the cgroup's totals when the task has
// one with the memory controller, else the leader process's own usage.
func (h *handle) Stats() (drivers.Usage, error) {
	if h.isDone() {
		return drivers.Usage{}, fmt.Errorf("exec: task %q has exited", h.taskID)
	}
	var u drivers.Usage
	if cg := h.sd.Cgroup; cg != "" {
		mem := filepath.Join(cg, "memory.current")
		if v1 := h.d.cg.v1Path("memory", cg); v1 != "" {
			mem = filepath.Join(v1, "memory.usage_in_bytes")
		}
		if v, err := strconv.ParseUint(readTrim(mem), 10, 64); err == nil {
			u.RSSBytes = v
		}
		for _, line := range splitLines(readTrim(filepath.Join(cg, "cpu.stat"))) {
			var usec uint64
			if _, err := fmt.Sscanf(line, "usage_usec %d", &usec); err == nil {
				u.CPUSeconds = float64(usec) / 1e6
			}
		}
	}
	if u.RSSBytes == 0 || u.CPUSeconds == 0 {
		// No cgroup (or it could not be read): the processes of the
		// task's process group, as /proc shows them now.
		rss, ticks, err := groupUsage(h.sd.Pid, h.sd.Pgid)
		if err != nil {
			return drivers.Usage{}, fmt.Errorf("exec: stats of task %q: %w", h.taskID, err)
		}
		if u.RSSBytes == 0 {
			u.RSSBytes = rss * uint64(os.Getpagesize())
		}
		if u.CPUSeconds == 0 {
			u.CPUSeconds = float64(ticks) / clockTicks
		}
	}
	return u, nil
}

// groupUsage sums the resident pages and CPU ticks of the processes in
// process group pgid (the task's leader pid and whatever it started that
// stayed in its group). Processes that exit while it reads are skipped;
// the leader must be readable. The time of children that already exited
// is not counted (it shows in their parent's cutime only once reaped).
func groupUsage(pid, pgid int) (rssPages, ticks uint64, err error) {
	lead, err := readProcStat(pid)
	if err != nil {
		return 0, 0, err
	}
	rssPages, ticks = uint64(max(lead.RSSPages, 0)), lead.Utime+lead.Stime
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return rssPages, ticks, nil
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		st, err := readProcStat(p)
		if err != nil || st.Pgid != pgid || st.State == 'Z' {
			continue
		}
		rssPages += uint64(max(st.RSSPages, 0))
		ticks += st.Utime + st.Stime
	}
	return rssPages, ticks, nil
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}
