//go:build linux

package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// Options configure the driver. The zero value is the production setup.
type Options struct {
	Logger *slog.Logger
	// CgroupMounts are searched, in order, for a cgroup2 hierarchy
	// (default DefaultCgroupMounts).
	CgroupMounts []string
	// CgroupParent names the cgroup the per-task cgroups live in
	// (default "tether").
	CgroupParent string
	// CgroupV1Root is where a hybrid host's cgroup v1 hierarchies are
	// mounted (default DefaultCgroupV1Root); memory and cpu limits are set
	// there when the cgroup2 hierarchy lacks those controllers.
	CgroupV1Root string
	// DisableCgroups turns per-task cgroups off.
	DisableCgroups bool
}

// Driver runs tasks as processes. Its methods are safe for concurrent use.
type Driver struct {
	opts Options
	log  *slog.Logger

	cgOnce   sync.Once // runs cgroup detection once; cg and cgReason are immutable after
	cg       *cgroups  // nil: no cgroups
	cgReason string
}

var _ drivers.Driver = (*Driver)(nil)

// New returns an exec driver logging to logger (nil: discard).
func New(logger *slog.Logger) *Driver { return NewWithOptions(Options{Logger: logger}) }

// NewWithOptions returns an exec driver with options.
func NewWithOptions(o Options) *Driver {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(o.CgroupMounts) == 0 {
		o.CgroupMounts = DefaultCgroupMounts
	}
	if o.CgroupV1Root == "" {
		o.CgroupV1Root = DefaultCgroupV1Root
	}
	if o.CgroupParent == "" {
		o.CgroupParent = "tether"
	}
	return &Driver{opts: o, log: o.Logger.With("driver", "exec")}
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return "exec" }

// cgroups returns the cgroup setup, detecting it on first use and logging
// once why limits are (partly) unavailable.
func (d *Driver) cgroups() *cgroups {
	d.cgOnce.Do(func() {
		if d.opts.DisableCgroups {
			d.cgReason = "cgroups disabled in the agent's configuration"
		} else {
			var notes []string
			d.cg, d.cgReason, notes = detectCgroups(d.opts.CgroupMounts, d.opts.CgroupV1Root, d.opts.CgroupParent)
			for _, n := range notes {
				d.log.Warn("exec driver: "+n, "cgroup", d.cg.parent)
			}
		}
		if d.cg == nil {
			d.log.Warn("exec driver: running tasks without cgroups: " + d.cgReason)
		} else {
			d.log.Info("exec driver: per-task cgroups", "parent", d.cg.parent, "controllers", d.cg.controllerList(), "through_v1", d.cg.v1List())
		}
	})
	return d.cg
}

// CgroupStatus reports whether per-task cgroups are used, and why not.
func (d *Driver) CgroupStatus() (parent string, controllers []string, reason string) {
	cg := d.cgroups()
	if cg == nil {
		return "", nil, d.cgReason
	}
	for _, c := range wantControllers {
		if cg.controllers[c] {
			controllers = append(controllers, c)
		}
	}
	return cg.parent, controllers, ""
}

// Detect implements drivers.Driver. Attributes: driver.exec = "1",
// driver.exec.cgroup = "v2" | "hybrid" | "none",
// driver.exec.cgroup.controllers = the limits that are enforced
// ("cpu,memory", possibly empty), and on a hybrid host
// driver.exec.cgroup.v1 = those enforced through cgroup v1.
func (d *Driver) Detect(ctx context.Context) (map[string]string, error) {
	attrs := map[string]string{"driver.exec": "1", "driver.exec.cgroup": "none"}
	if cg := d.cgroups(); cg != nil {
		attrs["driver.exec.cgroup"] = "v2"
		attrs["driver.exec.cgroup.controllers"] = cg.controllerList()
		if v1 := cg.v1List(); v1 != "" {
			attrs["driver.exec.cgroup"] = "hybrid"
			attrs["driver.exec.cgroup.v1"] = v1
		}
	}
	return attrs, nil
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tc, err := parseTaskConfig(cfg)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.User)
	if err != nil {
		return nil, err
	}
	stdout, err := openLog(cfg.StdoutPath, cfg.Logs)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := openLog(cfg.StderrPath, cfg.Logs)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()

	newCmd := func() *osexec.Cmd {
		return &osexec.Cmd{
			Path:   tc.path,
			Args:   append([]string{tc.command}, tc.args...),
			Env:    tc.env,
			Dir:    tc.dir,
			Stdout: stdout,
			Stderr: stderr,
			SysProcAttr: &syscall.SysProcAttr{
				Setsid:     true, // own session and process group: survives the agent, killable as a group
				Credential: cred,
			},
		}
	}

	cg := d.cgroups()
	cgPath := ""
	if cg != nil {
		if cgPath, err = cg.create(cfg.ID, cfg.MemoryMB, cfg.CPU); err != nil {
			return nil, err
		}
	}
	cmd, err := d.startInCgroup(newCmd, cgPath)
	if err != nil {
		if cgPath != "" {
			_ = cg.remove(cgPath)
		}
		return nil, fmt.Errorf("exec: start task %q: %w", cfg.ID, err)
	}
	pid := cmd.Process.Pid
	st, err := readProcStat(pid)
	if err != nil {
		// Our unreaped child always has a /proc entry.
		panic("BUG: read /proc stat of our child: " + err.Error())
	}
	sd := stateData{Pid: pid, StartTime: st.StartTime, Pgid: pid, Cgroup: cgPath}
	if cfg.StdoutPath != "" || cfg.StderrPath != "" {
		p := cfg.Logs.WithDefaults()
		sd.Logs = &logState{Stdout: cfg.StdoutPath, Stderr: cfg.StderrPath, MaxFiles: p.MaxFiles, MaxFileSize: p.MaxFileSize}
	}
	h := newHandle(d, cfg.ID, time.Now(), sd)
	h.rotateLogs()
	go func() {
		_ = cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		h.exited(resultFromStatus(unix.WaitStatus(ws)))
	}()
	d.log.Info("task started", "task", cfg.ID, "pid", pid, "cgroup", cgPath)
	return h, nil
}

// startInCgroup starts a command directly inside the cgroup (clone3 with
// CLONE_INTO_CGROUP) or, where the kernel refuses that, starts it and then
// moves it in.
func (d *Driver) startInCgroup(newCmd func() *osexec.Cmd, cgPath string) (*osexec.Cmd, error) {
	cmd := newCmd()
	if cgPath == "" {
		return cmd, cmd.Start()
	}
	fd, err := unix.Open(cgPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = fd
		err = cmd.Start()
		unix.Close(fd)
		if err == nil {
			d.joinV1(cmd.Process.Pid, cgPath)
			return cmd, nil
		}
		// Old kernel (no clone3 / CLONE_INTO_CGROUP) or an exec error: a
		// plain start tells which.
		d.log.Debug("exec driver: start into cgroup failed; retrying without", "err", err)
		cmd = newCmd()
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := addProc(cgPath, cmd.Process.Pid); err != nil {
		d.log.Warn("exec driver: could not move task into its cgroup; limits not applied", "pid", cmd.Process.Pid, "cgroup", cgPath, "err", err)
		return cmd, nil
	}
	d.joinV1(cmd.Process.Pid, cgPath)
	return cmd, nil
}

// joinV1 moves a started task into its cgroup v1 limits, if any.
func (d *Driver) joinV1(pid int, cgPath string) {
	if err := d.cg.joinV1(cgPath); err != nil {
		d.log.Warn("exec driver: cgroup v1 limits not applied; "+err.Error(), "pid", pid)
	}
}

// Recover implements drivers.Driver: it re-attaches to a task started by an
// earlier agent process. See attach for how the exit status is learned.
func (d *Driver) Recover(ctx context.Context, hs drivers.HandleState) (drivers.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sd, err := decodeState(hs.Data)
	if err != nil {
		return nil, err
	}
	if err := checkAlive(sd); err != nil {
		return nil, fmt.Errorf("exec: recover %q: %w", hs.TaskID, err)
	}
	if cg := d.cgroups(); cg == nil || !cg.owns(sd.Cgroup) {
		sd.Cgroup = ""
	}
	h := newHandle(d, hs.TaskID, time.UnixMilli(hs.StartedAt), sd)
	if err := d.attach(h); err != nil {
		return nil, fmt.Errorf("exec: recover %q: %w", hs.TaskID, err)
	}
	h.rotateLogs()
	d.log.Info("task re-attached", "task", hs.TaskID, "pid", sd.Pid, "traced", h.traced)
	return h, nil
}

// checkAlive returns ErrTaskGone (wrapped) unless the process of sd is
// alive and is the same process (same start time) as when sd was taken.
func checkAlive(sd stateData) error {
	st, err := readProcStat(sd.Pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("pid %d does not exist: %w", sd.Pid, drivers.ErrTaskGone)
	case err != nil:
		return err
	case st.StartTime != sd.StartTime:
		return fmt.Errorf("pid %d was reused by another process (start time %d, want %d): %w", sd.Pid, st.StartTime, sd.StartTime, drivers.ErrTaskGone)
	case st.dead():
		return fmt.Errorf("pid %d has exited (state %c): %w", sd.Pid, st.State, drivers.ErrTaskGone)
	}
	return nil
}

// openLog opens the file of the log stream base that the task writes to,
// with O_APPEND: the agent rotates it by copy and truncate (rotateLogs),
// so the task writes straight into it and needs no agent to run.
func openLog(base string, p logfile.Policy) (*os.File, error) {
	if base == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	f, _, _, err := logfile.OpenCurrent(base, p)
	if err != nil {
		return nil, fmt.Errorf("exec: task log %s: %w", base, err)
	}
	return f, nil
}

// resultFromStatus decodes a wait status. A task killed by a signal gets
// ExitCode 128+signal, as a shell reports it.
func resultFromStatus(ws unix.WaitStatus) drivers.ExitResult {
	switch {
	case ws.Signaled():
		return drivers.ExitResult{ExitCode: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	case ws.Exited():
		return drivers.ExitResult{ExitCode: ws.ExitStatus()}
	}
	return drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("exec: unexpected wait status %#x", uint32(ws))}
}
