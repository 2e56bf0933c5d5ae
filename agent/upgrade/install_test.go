package upgrade

import (
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goversion "github.com/hashicorp/go-version"
)

func TestCheckVersion(t *testing.T) {
	for _, c := range []struct {
		running, target string
		allow           bool
		ok              bool
	}{
		{"1.9.0", "1.10.0", false, true}, // numeric, not string, order
		{"1.10.0", "1.9.0", false, false},
		{"1.10.0", "1.9.0", true, true},
		{"1.2.0-rc1", "1.2.0", false, true},
		{"1.2.0", "1.2.0-rc1", false, false},
		{"dev", "0.1.0", false, true}, // a development build takes any release
		{"1.0.0", "nightly", false, false},
		{"1.0.0", "nightly", true, true},
	} {
		err := CheckVersion(c.running, c.target, c.allow)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("%s -> %s (allow downgrade %v): %v", c.running, c.target, c.allow, err)
		}
	}
}

func TestTargetIsKnown(t *testing.T) {
	if tg := Target(); tg != "linux/amd64" && tg != "linux/arm64" && !strings.HasPrefix(tg, "linux/armv") {
		t.Fatalf("Target() = %q", tg)
	}
}

// Install keeps the running binary as .prev (the same file) and puts the
// new one in its place; Restore puts the previous one back.
func TestInstallAndRestore(t *testing.T) {
	dir := t.TempDir()
	exe, src := filepath.Join(dir, "agent"), filepath.Join(t.TempDir(), "new")
	os.WriteFile(exe, []byte("old agent"), 0o755)
	os.WriteFile(src, []byte("new agent"), 0o600)
	before, _ := os.Stat(exe)
	sum := sha256.Sum256([]byte("new agent"))
	prev, err := Install(src, exe, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "new agent" {
		t.Fatalf("exe holds %q", got)
	}
	st, _ := os.Stat(exe)
	if st.Mode().Perm() != 0o755 {
		t.Fatalf("new binary mode %v, want 0755", st.Mode())
	}
	pst, _ := os.Stat(prev)
	if prev != exe+".prev" || !os.SameFile(before, pst) {
		t.Fatalf("previous binary %s is not the old file", prev)
	}
	if _, err := os.Stat(exe + ".new"); !os.IsNotExist(err) {
		t.Fatal("agent.new left behind")
	}
	if err := Restore(exe, prev); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "old agent" {
		t.Fatalf("restored exe holds %q", got)
	}
	// A copy that does not match what was verified is not installed.
	os.WriteFile(src, []byte("changed after verification"), 0o600)
	if _, err := Install(src, exe, sum[:]); err == nil {
		t.Fatal("installed a binary that does not match its hash")
	}
	if got, _ := os.ReadFile(exe); string(got) != "old agent" {
		t.Fatalf("exe holds %q after a refused install", got)
	}
}

func TestInstallNotWritableSaysWhatToConfigure(t *testing.T) {
	src := filepath.Join(t.TempDir(), "new")
	os.WriteFile(src, []byte("x"), 0o600)
	_, err := Install(src, "/proc/agent-dir-that-cannot-exist/agent", nil)
	if err == nil || !strings.Contains(err.Error(), "not writable") || !strings.Contains(err.Error(), "ReadWritePaths=") {
		t.Fatalf("got %v", err)
	}
}

func TestCommandWithEmulator(t *testing.T) {
	path, argv, err := command(nil, "/opt/agent", []string{"agent", "-name", "n1"})
	if err != nil || path != "/opt/agent" || strings.Join(argv, " ") != "agent -name n1" {
		t.Fatalf("plain: %s %v %v", path, argv, err)
	}
	path, argv, err = command([]string{"sh", "-x"}, "/opt/agent", []string{"agent", "-name", "n1"})
	if err != nil || !strings.HasSuffix(path, "/sh") || strings.Join(argv, " ") != "sh -x /opt/agent -name n1" {
		t.Fatalf("emulated: %s %v %v", path, argv, err)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// trial sets up a binary swapped for a new one and a state file in the
// trying phase for the process pid.
func trial(t *testing.T, pid int, deadline time.Time) (string, string) {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "agent")
	os.WriteFile(exe, []byte("old agent"), 0o755)
	src := filepath.Join(t.TempDir(), "new")
	os.WriteFile(src, []byte("new agent"), 0o600)
	sum := sha256.Sum256([]byte("new agent"))
	prev, err := Install(src, exe, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "upgrade", StateFile)
	s := &State{Phase: PhaseTrying, Version: "1.1.0", From: "1.0.0", RolloutID: "r1", Exe: exe, Prev: prev,
		Args: []string{"agent", "-name", "n1"}, Deadline: deadline.UnixMilli(), PID: pid}
	if err := SaveState(path, s); err != nil {
		t.Fatal(err)
	}
	return exe, path
}

func TestWatchdogRollsBackWhenAgentExits(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	exe, path := trial(t, dead.Process.Pid, time.Now().Add(time.Hour))
	var started *State
	w := &watchdog{path: path, log: quiet(), now: time.Now, alive: alive, start: func(s *State) error { started = s; return nil }}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "old agent" {
		t.Fatalf("binary after rollback: %q", got)
	}
	s, _ := LoadState(path)
	if s.Phase != PhaseRolledBack || s.Failure == nil || s.Failure.Version != "1.1.0" || !s.Failure.RolledBack || !strings.Contains(s.Failure.Reason, "exited") {
		t.Fatalf("state after rollback: %+v %+v", s, s.Failure)
	}
	if started == nil || strings.Join(started.Args, " ") != "agent -name n1" {
		t.Fatalf("agent not started again with its arguments: %+v", started)
	}
}

// While the agent execs into the new binary from a thread other than its
// first, /proc shows that thread as a zombie for a moment: a process that
// looks gone for less than exitGrace is not taken as exited.
func TestWatchdogIgnoresAMomentaryZombie(t *testing.T) {
	exe, path := trial(t, os.Getpid(), time.Now().Add(time.Hour))
	looks := 0
	momentary := func(pid int) bool {
		looks++
		switch {
		case looks <= 2: // gone for two polls (200 ms), then back
			return false
		case looks == 10: // the new agent marks itself healthy
			s, _ := LoadState(path)
			s.Phase = PhaseHealthy
			SaveState(path, s)
		}
		return true
	}
	w := &watchdog{path: path, log: quiet(), now: time.Now, alive: momentary, start: func(*State) error { t.Error("started again"); return nil }}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "new agent" {
		t.Fatalf("binary rolled back over a momentary zombie: %q", got)
	}
}

func TestWatchdogRollsBackUnhealthyAgentAndStopsIt(t *testing.T) {
	agent := exec.Command("sleep", "300")
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	exe, path := trial(t, agent.Process.Pid, time.Now().Add(300*time.Millisecond))
	starts := 0
	reaped := func(pid int) bool {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
			return alive(pid)
		}
	}
	w := &watchdog{path: path, log: quiet(), now: time.Now, alive: reaped, start: func(*State) error { starts++; return nil }}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Fatalf("unhealthy agent ended with %v, want SIGTERM", err)
		}
	default:
		t.Fatal("the unhealthy agent still runs")
	}
	if got, _ := os.ReadFile(exe); string(got) != "old agent" || starts != 1 {
		t.Fatalf("binary %q, started %d times", got, starts)
	}
	if s, _ := LoadState(path); !strings.Contains(s.Failure.Reason, "health window") {
		t.Fatalf("reason %q", s.Failure.Reason)
	}
}

func TestWatchdogLeavesHealthyAgent(t *testing.T) {
	exe, path := trial(t, os.Getpid(), time.Now().Add(time.Hour))
	s, _ := LoadState(path)
	s.Phase = PhaseHealthy
	SaveState(path, s)
	w := &watchdog{path: path, log: quiet(), now: time.Now, alive: alive, start: func(*State) error { t.Fatal("started"); return nil }}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "new agent" {
		t.Fatalf("binary %q", got)
	}
}

// Under a supervisor the watchdog restores the binary and leaves the
// start to it (systemd's Restart=always; a systemctl stop stays a stop).
func TestWatchdogSupervisedLeavesStartToSystemd(t *testing.T) {
	dead := exec.Command("true")
	dead.Run()
	exe, path := trial(t, dead.Process.Pid, time.Now().Add(time.Hour))
	s, _ := LoadState(path)
	s.Supervised = true
	SaveState(path, s)
	w := &watchdog{path: path, log: quiet(), now: time.Now, alive: alive, start: func(*State) error { t.Error("started beside systemd"); return nil }}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "old agent" {
		t.Fatalf("binary %q", got)
	}
}

// compareVersions orders versions as hashicorp/go-version does (central
// uses the library; the agent has its own comparison to keep the
// library's regexp out of its binary): every pair of a corpus, and every
// string the agent takes for a version the library takes too.
func TestCompareVersionsAgreesWithGoVersion(t *testing.T) {
	corpus := []string{"0", "1", "1.0", "1.0.0", "v1.0.0", "1.0.0.0", "1.0.1", "1.2", "1.2.0", "1.9.3", "1.10.0", "2.0.0",
		"1.2.0-rc1", "1.2.0-rc.1", "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0-rc", "1.2.0-rc.beta", "1.2.0-alpha", "1.2.0-beta",
		"1.2.0-1", "1.2.0-01", "1.2.0-2", "1.2.0-rc1+build.5", "1.2.0+meta", "1.2.0--x", "1.2.0-~a", "10.0.0", "0.9.0",
		"1.0.0-", "1.0.0+", "1..0", ".1", "1.", "dev", "nightly", "1.0.0beta", "v", "", "1.0.0-a..b", "1.0.0-a+b+c",
		"99999999999999999999.0", "1.0.0-é", " 1.0.0"}
	for _, a := range corpus {
		av, aok := parseVersion(a)
		ga, gerr := goversion.NewVersion(a)
		if aok && gerr != nil {
			t.Errorf("%q: the agent takes it for a version, go-version does not (%v)", a, gerr)
			continue
		}
		if !aok {
			continue
		}
		for _, b := range corpus {
			bv, bok := parseVersion(b)
			if !bok {
				continue
			}
			gb, _ := goversion.NewVersion(b)
			if got, want := compareVersions(av, bv), ga.Compare(gb); got != want {
				t.Errorf("compare(%q, %q) = %d, go-version says %d", a, b, got, want)
			}
		}
	}
}
