package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// EnvEmulator, when set, is the command (with its arguments, split at
// spaces) the agent runs under, e.g. "qemu-arm-static -cpu arm1176": the
// agent then re-execs itself, and its watchdog starts it, through it. It
// is for an agent of another architecture run under qemu-user on a host
// without binfmt_misc (tests, development); a device leaves it unset.
const EnvEmulator = "TETHER_AGENT_EMULATOR"

// Names beside the agent's binary.
const (
	PrevSuffix = ".prev" // the previous binary, kept for the watchdog and a rollback
	NewSuffix  = ".new"  // the new binary while it is written
)

// Install writes src (a verified release binary) beside exe, syncs it,
// makes it executable, keeps the binary now at exe as exe.prev (a hard
// link: the same file, still running) and renames the new one over exe
// in one step. It returns exe.prev.
func Install(src, exe string, sum []byte) (string, error) {
	dir := filepath.Dir(exe)
	next, prev := exe+NewSuffix, exe+PrevSuffix
	if err := copyFile(src, next, 0o755); err != nil {
		return "", notWritable(dir, err)
	}
	got, err := fileSHA256(next)
	if err != nil || !bytes.Equal(got, sum) {
		os.Remove(next)
		return "", fmt.Errorf("upgrade: the copy at %s does not match the verified binary (%v): is the disk failing?", next, err)
	}
	if err := os.Remove(prev); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(next)
		return "", notWritable(dir, err)
	}
	if err := os.Link(exe, prev); err != nil {
		if err := copyFile(exe, prev, 0o755); err != nil {
			os.Remove(next)
			return "", notWritable(dir, err)
		}
	}
	if err := os.Rename(next, exe); err != nil {
		os.Remove(next)
		return "", notWritable(dir, err)
	}
	syncDir(dir)
	return prev, nil
}

// Restore renames prev back over exe: the previous binary runs next.
func Restore(exe, prev string) error {
	if err := os.Rename(prev, exe); err != nil {
		return fmt.Errorf("upgrade: put the previous agent back (%s -> %s): %w", prev, exe, err)
	}
	syncDir(filepath.Dir(exe))
	return nil
}

func notWritable(dir string, err error) error {
	return fmt.Errorf("upgrade: the agent's directory %s is not writable (%v): the agent replaces its own binary there; "+
		"run it from a directory of its own that it may write (under systemd with ProtectSystem, add ReadWritePaths= for that directory alone, "+
		"which exec tasks inherit: the boards' units use /usr/local/lib/tether-agent, re-bundle an older device; see docs/upgrades.md)", dir, err)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if serr := out.Sync(); err == nil {
		err = serr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, mode) // the umask may have taken bits away
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// Executable is the running agent's binary, symbolic links resolved.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("upgrade: find the agent's binary: %w", err)
	}
	return filepath.EvalSymlinks(exe)
}

// Emulator is the command from EnvEmulator (nil when unset).
func Emulator() []string { return strings.Fields(os.Getenv(EnvEmulator)) }

// Supervised reports whether systemd started this process as a service's
// main process (it sets INVOCATION_ID, and is the parent): systemd then
// starts the agent again after a rollback (Restart=always).
func Supervised() bool {
	return os.Getenv("INVOCATION_ID") != "" && os.Getppid() == 1
}

// Plan is a verified binary ready to replace the running agent.
type Plan struct {
	Binary    string // verified, in data_dir/upgrade
	Order     protocol.AgentUpgrade
	From      string // the running version
	StatePath string
}

// Switch installs the plan's binary over the running agent's, records the
// upgrade in the state file, starts the watchdog from the previous binary
// and execs the new one in this process (same PID, arguments and
// environment). It returns only when it could not: the previous binary is
// then in place again and the state file says why; the caller execs
// itself again (Reexec) to carry on with the old version.
func Switch(p Plan, args []string, log *slog.Logger) error {
	fail := func(err error) error {
		saveFailure(p, err, false, log)
		return err
	}
	exe, err := Executable()
	if err != nil {
		return fail(err)
	}
	prev, err := Install(p.Binary, exe, p.Order.SHA256)
	if err != nil {
		return fail(err)
	}
	os.Remove(p.Binary) // installed: the download's space goes back to the data dir
	window := time.Duration(p.Order.Window()) * time.Millisecond
	s := &State{Phase: PhaseTrying, Version: p.Order.Version, From: p.From, RolloutID: p.Order.RolloutID, SHA256: p.Order.SHA256,
		Exe: exe, Prev: prev, Args: args, Emulator: Emulator(), Deadline: time.Now().Add(window).UnixMilli(),
		PID: os.Getpid(), Supervised: Supervised()}
	if err := SaveState(p.StatePath, s); err != nil {
		return fail(restoreAfter(exe, prev, err))
	}
	if err := startWatchdog(s, p.StatePath); err != nil {
		return fail(restoreAfter(exe, prev, fmt.Errorf("upgrade: start the watchdog: %w", err)))
	}
	log.Info("agent upgrade: executing the new binary; the watchdog restores the previous one unless it is healthy in time",
		"version", p.Order.Version, "from", p.From, "binary", exe, "previous", prev, "health_window", window, "supervised", s.Supervised)
	err = execAgent(exe, args)
	// Still here: the new binary did not even start.
	return fail(restoreAfter(exe, prev, fmt.Errorf("upgrade: exec %s: %w", exe, err)))
}

func restoreAfter(exe, prev string, err error) error {
	if rerr := Restore(exe, prev); rerr != nil {
		return fmt.Errorf("%w; %v", err, rerr)
	}
	return err
}

// saveFailure records a failed upgrade that never ran (or, rolledBack,
// one the watchdog undid), for the agent to report.
func saveFailure(p Plan, err error, rolledBack bool, log *slog.Logger) {
	s := &State{Phase: PhaseRefused, Version: p.Order.Version, From: p.From, RolloutID: p.Order.RolloutID,
		Failure: &protocol.UpgradeFailure{Version: p.Order.Version, Reason: protocol.TruncReason(err.Error()),
			Time: time.Now().UnixMilli(), RolloutID: p.Order.RolloutID, RolledBack: rolledBack}}
	if serr := SaveState(p.StatePath, s); serr != nil {
		log.Error("agent upgrade: cannot record the failure", "err", serr)
	}
}

// Refused records an order refused before anything was installed.
func Refused(statePath, from string, u *protocol.AgentUpgrade, err error, log *slog.Logger) {
	saveFailure(Plan{Order: *u, From: from, StatePath: statePath}, err, false, log)
}

// Reexec execs the running agent's binary again, in this process.
func Reexec(args []string) error {
	exe, err := Executable()
	if err != nil {
		return err
	}
	return execAgent(exe, args)
}

// execAgent replaces this process with exe (through the emulator, if one
// is set), keeping the arguments after the program name and the
// environment.
func execAgent(exe string, args []string) error {
	path, argv, err := command(Emulator(), exe, args)
	if err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}

// command is the program and argv that run exe with args[1:].
func command(emu []string, exe string, args []string) (string, []string, error) {
	rest := []string{}
	if len(args) > 1 {
		rest = args[1:]
	}
	if len(emu) == 0 {
		argv0 := exe
		if len(args) > 0 {
			argv0 = args[0]
		}
		return exe, append([]string{argv0}, rest...), nil
	}
	path, err := exec.LookPath(emu[0])
	if err != nil {
		return "", nil, fmt.Errorf("upgrade: emulator %s=%q: %w", EnvEmulator, strings.Join(emu, " "), err)
	}
	argv := append(append(append([]string{}, emu...), exe), rest...)
	return path, argv, nil
}

// startWatchdog runs "<prev> upgrade-watchdog -state PATH" in a session
// of its own. That process starts the real watchdog (-detached) and
// exits, so the watchdog is nobody's child once the agent execs (no
// zombie for the new agent) and survives a stop of the agent's process
// group or terminal.
func startWatchdog(s *State, statePath string) error {
	path, argv, err := command(s.Emulator, s.Prev, []string{s.Prev, "upgrade-watchdog", "-state", statePath})
	if err != nil {
		return err
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Stdout: os.Stderr, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", s.Prev, err)
		}
		return nil
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		return errors.New("the watchdog did not start within a minute")
	}
}
