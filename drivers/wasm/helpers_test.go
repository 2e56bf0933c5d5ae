package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/internal/testhost"
)

// guestDir holds the test guests, built once per test binary, and
// sharedCache the compilation cache most tests share, so each guest is
// compiled once (compiling the Go guest takes ~30 s under -race).
var guestDir, sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasm-guests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestDir = dir
	sharedCache = filepath.Join(dir, "cache")
	if uc, err := os.UserCacheDir(); err == nil {
		// Kept across runs like Go's build cache: entries are keyed by the
		// module's hash and the wazero version, so they never go stale.
		sharedCache = filepath.Join(uc, "tether", "wasm-test-cache")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guestBuild is one guest's build, done at most once.
type guestBuild struct {
	once sync.Once
	path string
	err  error // a missing tool or a failed build
}

var guestBuilds = map[string]*guestBuild{
	"tool": {}, "serve": {}, "loop": {}, "bigmem": {}, "badimport": {}, "go": {},
}

// guest returns the path of a built test guest. A missing tool skips the
// test, except under CI=true where it fails: CI must install clang, lld,
// wasi-libc, libclang-rt-14-dev-wasm32 and wabt.
func guest(t testing.TB, name string) string {
	t.Helper()
	b, ok := guestBuilds[name]
	if !ok {
		t.Fatalf("BUG: unknown guest %q", name)
	}
	b.once.Do(func() { b.path, b.err = buildGuest(name) })
	if b.err != nil {
		testhost.Require(t, !errors.Is(b.err, exec.ErrNotFound), fmt.Sprintf("the tools that build test guest %s (%v)", name, b.err),
			"install clang, lld, wasi-libc, libclang-rt-14-dev-wasm32 and wabt; .ci/run does")
		t.Fatalf("building test guest %s: %v", name, b.err)
	}
	return b.path
}

func buildGuest(name string) (string, error) {
	out := filepath.Join(guestDir, name+".wasm")
	var cmd *exec.Cmd
	switch name {
	case "tool", "serve":
		clang, err := exec.LookPath("clang")
		if err != nil {
			return "", fmt.Errorf("clang: %w (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)", err)
		}
		src := filepath.Join("testdata", "guests", name+".c")
		if name == "serve" { // the example web service is the serving guest
			src = filepath.Join("..", "..", "examples", "wasm", "web.c")
		}
		cmd = exec.Command(clang, "--target=wasm32-wasi", "-O2", "-Wl,--strip-all", "-o", out, src)
	case "loop", "bigmem", "badimport":
		wat2wasm, err := exec.LookPath("wat2wasm")
		if err != nil {
			return "", fmt.Errorf("wat2wasm: %w (apt-get install wabt)", err)
		}
		cmd = exec.Command(wat2wasm, "-o", out, filepath.Join("testdata", "guests", name+".wat"))
	case "go":
		goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			if goBin, err = exec.LookPath("go"); err != nil {
				return "", fmt.Errorf("go: %w", err)
			}
		}
		cmd = exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		err = fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
		// clang without wasi-libc or the wasm32 builtins is a missing tool too.
		for _, missing := range []string{"libclang_rt.builtins-wasm32.a", "'stdio.h' file not found", "wasm-ld"} {
			if strings.Contains(string(msg), missing) {
				return "", fmt.Errorf("%w (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): %v", exec.ErrNotFound, err)
			}
		}
		return "", err
	}
	return out, nil
}

// eventually polls f until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newDriver returns a driver on the shared cache dir unless o names
// another, closed at cleanup.
func newDriver(t testing.TB, o Options) *Driver {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = sharedCache
	}
	if o.ListenAddress == "" {
		o.ListenAddress = "127.0.0.1"
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// taskConfig returns a task laid out like the agent does it, under a temp dir.
func newTask(t testing.TB, module string, args ...string) *drivers.TaskConfig {
	t.Helper()
	root := t.TempDir()
	task := filepath.Join(root, "web")
	for _, d := range []string{"alloc", "web/local", "web/secrets", "alloc/logs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := map[string]any{"module": module}
	if len(args) > 0 {
		l := make([]any, len(args))
		for i, a := range args {
			l[i] = a
		}
		cfg["args"] = l
	}
	return &drivers.TaskConfig{
		ID:         "a1/web",
		AllocID:    "a1",
		TaskName:   "web",
		AllocDir:   filepath.Join(root, "alloc"),
		TaskDir:    task,
		LocalDir:   filepath.Join(task, "local"),
		SecretDir:  filepath.Join(task, "secrets"),
		StdoutPath: filepath.Join(root, "alloc", "logs", "web.stdout"),
		StderrPath: filepath.Join(root, "alloc", "logs", "web.stderr"),
		Env:        map[string]string{},
		Config:     cfg,
		MemoryMB:   64,
	}
}

// waitExit waits for a task's exit.
func waitExit(t testing.TB, h drivers.Handle, timeout time.Duration) drivers.ExitResult {
	t.Helper()
	select {
	case res := <-h.Wait():
		return res
	case <-time.After(timeout):
		t.Fatalf("task did not exit within %v", timeout)
	}
	return drivers.ExitResult{}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
