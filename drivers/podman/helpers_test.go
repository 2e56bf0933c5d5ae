package podman

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/podman/podmantest"
)

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
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
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is one private Podman service with the test image loaded.
type env struct {
	socket string
	image  string
}

func newEnv(t *testing.T) *env { return newEnvB(t) }

func newEnvB(t testing.TB) *env {
	t.Helper()
	socket := podmantest.Start(t)
	return &env{socket: socket, image: podmantest.Image(t, socket)}
}

func (e *env) driver(opts Options) *Driver {
	opts.Socket = e.socket
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	return New(opts)
}

// task returns a task config running `sh -c script` in e's image, with
// fresh alloc/task dirs and its logs under the alloc dir.
func (e *env) task(t *testing.T, name, script string) *drivers.TaskConfig {
	t.Helper()
	return e.taskB(t, name, script)
}

func (e *env) taskB(t testing.TB, name, script string) *drivers.TaskConfig {
	t.Helper()
	root := t.TempDir()
	alloc := fmt.Sprintf("a%d", time.Now().UnixNano())
	cfg := &drivers.TaskConfig{
		ID:         alloc + "/" + name,
		AllocID:    alloc,
		TaskName:   name,
		JobID:      "job1",
		AllocDir:   filepath.Join(root, "alloc"),
		TaskDir:    filepath.Join(root, name),
		LocalDir:   filepath.Join(root, name, "local"),
		SecretDir:  filepath.Join(root, name, "secrets"),
		StdoutPath: filepath.Join(root, "alloc", "logs", name+".stdout"),
		StderrPath: filepath.Join(root, "alloc", "logs", name+".stderr"),
		Env:        map[string]string{"TETHER_TASK_NAME": name},
		Config: map[string]any{
			"image":   e.image,
			"command": "/bin/sh",
			"args":    []any{"-c", script},
		},
	}
	for _, d := range []string{cfg.AllocDir, cfg.LocalDir, cfg.SecretDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func start(t *testing.T, d *Driver, cfg *drivers.TaskConfig) drivers.Handle {
	t.Helper()
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

func wait(t *testing.T, h drivers.Handle, timeout time.Duration) drivers.ExitResult {
	t.Helper()
	select {
	case r, ok := <-h.Wait():
		if !ok {
			t.Fatal("Wait channel closed without a result")
		}
		return r
	case <-time.After(timeout):
		t.Fatalf("task did not exit within %v", timeout)
	}
	panic("unreachable")
}

// fileHas polls until path contains want.
func fileHas(t *testing.T, path, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("%s = %q, want it to contain %q", path, b, want)
		}
		return nil
	})
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
