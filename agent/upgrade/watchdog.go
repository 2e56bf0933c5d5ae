package upgrade

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// The watchdog is the previous agent binary run as "agent upgrade-watchdog
// -state FILE", started by the old agent just before it execs the new one.
// It depends on nothing of the new binary: it watches the state file and
// the agent's PID. When the new agent marks the upgrade healthy in time,
// it leaves. When the agent's process exits first, or the health window
// ends, it renames the previous binary back over the new one, records the
// failure (the restored agent reports it), stops the new agent if it
// still runs (SIGTERM, then SIGKILL after stopWait) and starts the agent
// again with its arguments; under systemd (State.Supervised) it leaves
// that to the unit's Restart=always (and does not fight a systemctl stop).

// Watchdog timings.
const (
	pollEvery = 100 * time.Millisecond
	stopWait  = 30 * time.Second
	// exitGrace is how long the agent's process must look gone before the
	// watchdog believes it: while a process execs from a thread other than
	// its first, that first thread shows as a zombie for a moment.
	exitGrace = 500 * time.Millisecond
)

// RunWatchdog is the upgrade-watchdog subcommand. It returns the exit code.
func RunWatchdog(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("upgrade-watchdog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", "", "the upgrade state file (data_dir/upgrade/state.json)")
	detached := fs.Bool("detached", false, "run the watchdog itself (else start it detached and exit)")
	if err := fs.Parse(args); err != nil || *statePath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: agent upgrade-watchdog -state FILE (the agent starts it during an upgrade)")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "upgrade-watchdog")
	if !*detached {
		return detach(*statePath, log)
	}
	w := &watchdog{path: *statePath, log: log, now: time.Now, alive: alive}
	if err := w.run(); err != nil {
		log.Error("agent upgrade watchdog failed", "err", err)
		return 1
	}
	return 0
}

// detach starts this binary again as the real watchdog, in a session of
// its own, and returns without waiting for it.
func detach(statePath string, log *slog.Logger) int {
	s, err := LoadState(statePath)
	if err != nil || s == nil {
		log.Error("no upgrade to watch", "state", statePath, "err", err)
		return 1
	}
	path, argv, err := command(s.Emulator, s.Prev, []string{s.Prev, "upgrade-watchdog", "-detached", "-state", statePath})
	if err != nil {
		log.Error("cannot start the watchdog", "err", err)
		return 1
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Stdout: os.Stderr, Stderr: os.Stderr, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		log.Error("cannot start the watchdog", "err", err)
		return 1
	}
	cmd.Process.Release()
	return 0
}

type watchdog struct {
	path  string
	log   *slog.Logger
	now   func() time.Time
	alive func(pid int) bool
	start func(s *State) error // starts the agent again (nil: startAgent)
}

func (w *watchdog) run() error {
	var goneSince time.Time // when the agent's process first looked gone
	for {
		s, err := LoadState(w.path)
		if err != nil || s == nil {
			return fmt.Errorf("read the upgrade state: %v", err)
		}
		if s.Phase != PhaseTrying {
			w.log.Info("agent upgrade settled; watchdog leaving", "phase", s.Phase, "version", s.Version)
			return nil
		}
		window := time.Until(time.UnixMilli(s.Deadline))
		switch {
		case w.alive(s.PID):
			goneSince = time.Time{}
		case goneSince.IsZero():
			goneSince = time.Now()
		}
		switch {
		case !goneSince.IsZero() && time.Since(goneSince) >= exitGrace:
			return w.rollback(s, fmt.Sprintf("the new agent (%s) exited before it was healthy", s.Version))
		case !w.now().Before(time.UnixMilli(s.Deadline)):
			return w.rollback(s, fmt.Sprintf("the new agent (%s) was not healthy within the health window (connected to a broker, state read, allocations re-attached)", s.Version))
		}
		time.Sleep(min(pollEvery, max(window, time.Millisecond)))
	}
}

func (w *watchdog) rollback(s *State, reason string) error {
	w.log.Warn("agent upgrade failed: restoring the previous binary", "version", s.Version, "previous", s.From, "reason", reason)
	rerr := Restore(s.Exe, s.Prev)
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		reason += "; " + rerr.Error()
	}
	s.Phase = PhaseRolledBack
	s.Failure = &protocol.UpgradeFailure{Version: s.Version, Reason: protocol.TruncReason(reason), Time: w.now().UnixMilli(),
		RolloutID: s.RolloutID, RolledBack: true}
	if err := SaveState(w.path, s); err != nil {
		w.log.Error("cannot record the failed upgrade", "err", err)
	}
	if rerr != nil {
		return rerr
	}
	w.stop(s.PID)
	if s.Supervised {
		w.log.Info("previous binary restored; systemd starts the agent again (Restart=always)", "binary", s.Exe)
		return nil
	}
	start := w.start
	if start == nil {
		start = startAgent
	}
	if err := start(s); err != nil {
		return fmt.Errorf("start the previous agent again: %w", err)
	}
	w.log.Info("previous agent started again", "binary", s.Exe, "args", s.Args)
	return nil
}

// stop ends the new agent if it still runs: SIGTERM (tasks keep running),
// SIGKILL after stopWait.
func (w *watchdog) stop(pid int) {
	if !w.alive(pid) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopWait)
	for w.alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(pollEvery)
	}
}

// startAgent starts the restored agent with its arguments, in a session
// of its own, writing to the watchdog's output (the old agent's).
func startAgent(s *State) error {
	path, argv, err := command(s.Emulator, s.Exe, s.Args)
	if err != nil {
		return err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{Path: path, Args: argv, Stdin: devnull, Stdout: os.Stderr, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}
