//go:build linux

package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"

	"github.com/tether-edge/tether/internal/testhost"
)

func TestOutputAndExitCode(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `echo out; echo err >&2; exit 3`)
	r := wait(t, start(t, d, cfg), 10*time.Second)
	if r.ExitCode != 3 || r.Signal != 0 || r.Err != nil {
		t.Fatalf("result = %+v, want exit code 3", r)
	}
	if got := readFile(t, cfg.StdoutPath+".0"); got != "out\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := readFile(t, cfg.StderrPath+".0"); got != "err\n" {
		t.Errorf("stderr = %q", got)
	}
}

func TestLogsAreAppended(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `echo run`)
	for i := 0; i < 2; i++ {
		if r := wait(t, start(t, d, cfg), 10*time.Second); !r.Successful() {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	if got := readFile(t, cfg.StdoutPath+".0"); got != "run\nrun\n" {
		t.Fatalf("stdout = %q, want two runs appended", got)
	}
}

func TestKilledBySignal(t *testing.T) {
	d := New(testLogger())
	r := wait(t, start(t, d, newTask(t, "a1/web", `kill -USR1 $$`)), 10*time.Second)
	if r.Signal != 10 || r.ExitCode != 128+10 {
		t.Fatalf("result = %+v, want signal 10 (SIGUSR1)", r)
	}
}

func TestStopDefaultSignal(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `touch ready; sleep 1000 & wait`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	if err := h.Stop(10*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, time.Second); r.Signal != 15 {
		t.Fatalf("result = %+v, want killed by SIGTERM", r)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `trap 'echo term >> got' TERM; touch ready; while :; do sleep 0.05; done`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	begin := time.Now()
	const timeout = 300 * time.Millisecond
	if err := h.Stop(timeout, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < timeout {
		t.Errorf("Stop returned after %v, before its %v timeout", took, timeout)
	}
	if r := wait(t, h, time.Second); r.Signal != 9 {
		t.Fatalf("result = %+v, want killed by SIGKILL", r)
	}
	if got := readFile(t, filepath.Join(cfg.TaskDir, "got")); !strings.Contains(got, "term") {
		t.Fatalf("task did not see SIGTERM first: %q", got)
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `sleep 1000 & echo $! > child.pid; wait`)
	h := start(t, d, cfg)
	child := pidFromFile(t, filepath.Join(cfg.TaskDir, "child.pid"))
	if err := processGone(child); err == nil {
		t.Fatalf("child %d not running before Stop", child)
	}
	if err := h.Stop(10*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error { return processGone(child) })
}

func TestLeftoversKilledWhenTaskExits(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `sleep 1000 & echo $! > child.pid`)
	h := start(t, d, cfg)
	if r := wait(t, h, 10*time.Second); !r.Successful() {
		t.Fatalf("result = %+v", r)
	}
	child := pidFromFile(t, filepath.Join(cfg.TaskDir, "child.pid"))
	eventually(t, 5*time.Second, func() error { return processGone(child) })
}

func TestSignal(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `trap 'exit 5' HUP; touch ready; while :; do sleep 0.05; done`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	if err := h.(drivers.Signaler).Signal("SIGHUP"); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, 10*time.Second); r.ExitCode != 5 {
		t.Fatalf("result = %+v, want exit 5 from the HUP trap", r)
	}
	if err := h.(drivers.Signaler).Signal("SIGHUP"); err == nil {
		t.Fatal("Signal after exit: want an error")
	}
	if err := h.(drivers.Signaler).Signal("SIGNOPE"); err == nil {
		t.Fatal("unknown signal: want an error")
	}
}

func TestEnvIsTheTaskEnvOnly(t *testing.T) {
	t.Setenv("TETHER_AGENT_SECRET", "leak")
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `echo "foo=$FOO secret=$TETHER_AGENT_SECRET path=$PATH"`)
	cfg.Env = map[string]string{"FOO": "bar baz"}
	if r := wait(t, start(t, d, cfg), 10*time.Second); !r.Successful() {
		t.Fatalf("result = %+v", r)
	}
	got := readFile(t, cfg.StdoutPath+".0")
	want := "foo=bar baz secret= path=" + os.Getenv("PATH") + "\n"
	if os.Getenv("PATH") == "" {
		want = "foo=bar baz secret= path=" + defaultPath + "\n"
	}
	if got != want {
		t.Fatalf("stdout = %q, want %q", got, want)
	}
}

func TestWorkDirAndArgsLenient(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", "")
	if err := os.Mkdir(filepath.Join(cfg.TaskDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Config = map[string]any{"command": "sh", "args": []any{"-c", `pwd; echo "$1"`, "x", int64(8080)}, "work_dir": "sub"}
	if r := wait(t, start(t, d, cfg), 10*time.Second); !r.Successful() {
		t.Fatalf("result = %+v", r)
	}
	want := filepath.Join(cfg.TaskDir, "sub") + "\n8080\n"
	if got := readFile(t, cfg.StdoutPath+".0"); got != want {
		t.Fatalf("stdout = %q, want %q", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	d := New(testLogger())
	tests := []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"missing command", map[string]any{}, `"command" is required`},
		{"unknown key", map[string]any{"command": "/bin/true", "argz": []any{}}, `unknown config key "argz"`},
		{"args not a list", map[string]any{"command": "/bin/true", "args": "-v"}, `"args" must be a list`},
		{"not found", map[string]any{"command": "no-such-program-xyz"}, `not found in the task's PATH`},
		{"not executable", map[string]any{"command": "./data.txt"}, `not executable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newTask(t, "a1/web", "")
			cfg.Config = tt.cfg
			if err := os.WriteFile(filepath.Join(cfg.TaskDir, "data.txt"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := d.Start(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUser(t *testing.T) {
	testhost.Require(t, os.Geteuid() == 0, "root to run a task as another user (uid is "+strconv.Itoa(os.Geteuid())+")", "run the tests as root, as CI does")
	nobody, err := user.Lookup("nobody")
	testhost.Require(t, err == nil, "the user nobody", "adduser --system nobody")
	dir, err := os.MkdirTemp("", "tether-exec-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	d := New(testLogger())
	cfg := newTaskIn(t, dir, "a1/web", `id -u; id -g; touch mine`)
	cfg.User = "nobody"
	if r := wait(t, start(t, d, cfg), 10*time.Second); !r.Successful() {
		t.Fatalf("result = %+v, stderr %q", r, readFile(t, cfg.StderrPath+".0"))
	}
	if got, want := readFile(t, cfg.StdoutPath+".0"), nobody.Uid+"\n"+nobody.Gid+"\n"; got != want {
		t.Fatalf("id output = %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "mine"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != nobody.Uid {
		t.Fatalf("file the task created is owned by uid %d, want %s", uid, nobody.Uid)
	}

	cfg.User = "no-such-user-xyz"
	if _, err := d.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("unknown user: err = %v", err)
	}
}

func TestDetect(t *testing.T) {
	d := New(testLogger())
	attrs, err := d.Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if attrs["driver.exec"] != "1" {
		t.Errorf("driver.exec = %q", attrs["driver.exec"])
	}
	parent, ctrls, reason := d.CgroupStatus()
	switch attrs["driver.exec.cgroup"] {
	case "v2", "hybrid":
		if parent == "" {
			t.Error("cgroups reported but no parent cgroup")
		}
		if hybrid := attrs["driver.exec.cgroup.v1"] != ""; hybrid != (attrs["driver.exec.cgroup"] == "hybrid") {
			t.Errorf("driver.exec.cgroup = %q but driver.exec.cgroup.v1 = %q", attrs["driver.exec.cgroup"], attrs["driver.exec.cgroup.v1"])
		}
		t.Logf("cgroup %s at %s, controllers %v", attrs["driver.exec.cgroup"], parent, ctrls)
	case "none":
		if reason == "" {
			t.Error("cgroup none without a reason")
		}
		t.Logf("no cgroups: %s", reason)
	default:
		t.Errorf("driver.exec.cgroup = %q", attrs["driver.exec.cgroup"])
	}
	off := NewWithOptions(Options{Logger: testLogger(), DisableCgroups: true})
	if a, _ := off.Detect(context.Background()); a["driver.exec.cgroup"] != "none" {
		t.Errorf("disabled cgroups: driver.exec.cgroup = %q", a["driver.exec.cgroup"])
	}
}

func TestRecoverBadState(t *testing.T) {
	d := New(testLogger())
	for _, data := range [][]byte{nil, []byte("{"), []byte(`{"v":1,"pid":0}`), []byte(`{"v":9,"pid":5,"pgid":5,"start_time":1}`)} {
		if _, err := d.Recover(context.Background(), drivers.HandleState{Driver: "exec", TaskID: "a/b", Data: data}); !errors.Is(err, ErrBadState) {
			t.Errorf("Recover(%q): err = %v, want ErrBadState", data, err)
		}
	}
}

func TestStats(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `touch ready; while :; do :; done`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	eventually(t, 10*time.Second, func() error {
		u, err := h.(drivers.Statser).Stats()
		if err != nil {
			return err
		}
		if u.RSSBytes == 0 || u.CPUSeconds == 0 {
			return fmt.Errorf("usage %+v: want RSS and CPU time above zero", u)
		}
		return nil
	})
	_ = h.Stop(0, "SIGKILL")
	wait(t, h, 5*time.Second)
	if _, err := h.(drivers.Statser).Stats(); err == nil {
		t.Fatal("Stats after exit: want an error")
	}
}
