//go:build linux

package exec

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// The recover tests simulate an agent restart for real: the test binary
// re-executes itself as a short-lived "agent" that starts a task with the
// exec driver, prints the task's HandleState and exits, leaving the task an
// orphan. The test then re-attaches from that state in its own process.
const (
	agentEnv       = "TETHER_EXEC_TEST_AGENT"
	agentDirEnv    = "TETHER_EXEC_TEST_DIR"
	agentScriptEnv = "TETHER_EXEC_TEST_SCRIPT"
	agentLogMaxEnv = "TETHER_EXEC_TEST_LOG_MAX" // max_file_size in bytes, with max_files 2
	statePrefix    = "STATE "
)

func TestMain(m *testing.M) {
	if os.Getenv(agentEnv) == "1" {
		os.Exit(fakeAgent())
	}
	os.Exit(m.Run())
}

// fakeAgent is the child "agent" process: start one task, print its state.
func fakeAgent() int {
	cfg := taskConfigFor(os.Getenv(agentDirEnv), "a1/recover", os.Getenv(agentScriptEnv))
	if v := os.Getenv(agentLogMaxEnv); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		cfg.Logs = logfile.Policy{MaxFiles: 2, MaxFileSize: n}
	}
	h, err := New(nil).Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 1
	}
	b, err := json.Marshal(h.State())
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 1
	}
	fmt.Println(statePrefix + base64.StdEncoding.EncodeToString(b))
	return 0
}

// startInOtherAgent runs the fake agent and returns the orphaned task's state.
func startInOtherAgent(t *testing.T, dir, script string, env ...string) drivers.HandleState {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), agentEnv+"=1", agentDirEnv+"="+dir, agentScriptEnv+"="+script)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fake agent: %v: %s", err, stderr.String())
	}
	var hs drivers.HandleState
	for _, line := range strings.Split(string(out), "\n") {
		if b64, ok := strings.CutPrefix(line, statePrefix); ok {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &hs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if hs.Driver != "exec" {
		t.Fatalf("fake agent printed no state: %q", out)
	}
	sd, err := decodeState(hs.Data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = killGroup(sd.Pgid) })
	// The agent has exited: the task must have survived it and must not be
	// our child.
	st, err := readProcStat(sd.Pid)
	if err != nil || st.dead() {
		t.Fatalf("task pid %d did not survive its agent: %v", sd.Pid, err)
	}
	if st.Ppid == os.Getpid() {
		t.Fatalf("task pid %d is our child; the test would not simulate a restart", sd.Pid)
	}
	return hs
}

func killGroup(pgid int) error { return syscallKill(-pgid, 9) }

func recoverTraced(t *testing.T, d *Driver, hs drivers.HandleState) *handle {
	t.Helper()
	h, err := d.Recover(context.Background(), hs)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	eh := h.(*handle)
	if !eh.traced {
		t.Fatal("re-attached without ptrace: the exit code would be unknown")
	}
	return eh
}

func TestRecoverAfterAgentRestart(t *testing.T) {
	dir := t.TempDir()
	hs := startInOtherAgent(t, dir, `trap 'echo usr1 >> got' USR1; touch ready; while [ ! -f go ]; do sleep 0.05; done; exit 7`)
	waitFile(t, filepath.Join(dir, "ready"))

	d := New(testLogger())
	h := recoverTraced(t, d, hs)

	// Signals still reach the task while it is traced (re-injected).
	if err := h.Signal("SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "got"))
		if !strings.Contains(string(b), "usr1") {
			return errors.New("task has not run its USR1 trap")
		}
		return nil
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := wait(t, h, 10*time.Second)
	if r.ExitCode != 7 || r.Signal != 0 || r.Err != nil {
		t.Fatalf("result = %+v, want exit code 7", r)
	}
	if h.sd.Cgroup != "" {
		if _, err := os.Stat(h.sd.Cgroup); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s not removed after exit: %v", h.sd.Cgroup, err)
		}
	}
}

func TestRecoverThenStop(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		wantSignal int
	}{
		{"exits on SIGTERM", `touch ready; while :; do sleep 0.05; done`, 15},
		{"ignores SIGTERM", `trap '' TERM; touch ready; while :; do sleep 0.05; done`, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			hs := startInOtherAgent(t, dir, tt.script)
			waitFile(t, filepath.Join(dir, "ready"))
			h := recoverTraced(t, New(testLogger()), hs)
			if err := h.Stop(300*time.Millisecond, ""); err != nil {
				t.Fatal(err)
			}
			r := wait(t, h, time.Second)
			if r.Signal != tt.wantSignal || r.Err != nil {
				t.Fatalf("result = %+v, want signal %d", r, tt.wantSignal)
			}
			eventually(t, 5*time.Second, func() error { return processGone(h.sd.Pid) })
		})
	}
}

func TestRecoverDeadPid(t *testing.T) {
	d := New(testLogger())
	h := start(t, d, newTask(t, "a1/web", `exit 0`))
	wait(t, h, 10*time.Second)
	_, err := d.Recover(context.Background(), h.State())
	if !errors.Is(err, drivers.ErrTaskGone) {
		t.Fatalf("err = %v, want ErrTaskGone", err)
	}
}

func TestRecoverReusedPid(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `touch ready; sleep 1000 & wait`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	hs := h.State()
	sd, err := decodeState(hs.Data)
	if err != nil {
		t.Fatal(err)
	}
	sd.StartTime-- // as if the pid now belonged to a process started at another time
	hs.Data = sd.encode()
	_, err = d.Recover(context.Background(), hs)
	if !errors.Is(err, drivers.ErrTaskGone) || !strings.Contains(err.Error(), "reused") {
		t.Fatalf("err = %v, want ErrTaskGone for a reused pid", err)
	}
	if err := processGone(sd.Pid); err == nil {
		t.Fatal("the process with the reused pid was harmed")
	}
}
