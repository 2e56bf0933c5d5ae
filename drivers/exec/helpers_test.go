//go:build linux

package exec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
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
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTask returns a task config running `/bin/sh -c script` in a fresh task
// dir, with its logs in that dir.
func newTask(t *testing.T, id, script string) *drivers.TaskConfig {
	t.Helper()
	return newTaskIn(t, t.TempDir(), id, script)
}

func newTaskIn(t *testing.T, dir, id, script string) *drivers.TaskConfig {
	return taskConfigFor(dir, id, script)
}

func taskConfigFor(dir, id, script string) *drivers.TaskConfig {
	return &drivers.TaskConfig{
		ID:         id,
		TaskDir:    dir,
		StdoutPath: filepath.Join(dir, "logs", "stdout"),
		StderrPath: filepath.Join(dir, "logs", "stderr"),
		Env:        map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
		Config:     map[string]any{"command": "/bin/sh", "args": []any{"-c", script}},
	}
}

func start(t *testing.T, d *Driver, cfg *drivers.TaskConfig) drivers.Handle {
	t.Helper()
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = h.Stop(0, "SIGKILL") })
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
	return drivers.ExitResult{}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		_, err := os.Stat(path)
		return err
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// processGone reports nil once pid has exited (gone or a zombie).
func processGone(pid int) error {
	st, err := readProcStat(pid)
	if err != nil || st.dead() {
		return nil
	}
	return fmt.Errorf("pid %d still running (state %c)", pid, st.State)
}

func pidFromFile(t *testing.T, path string) int {
	t.Helper()
	waitFile(t, path)
	var pid int
	eventually(t, 5*time.Second, func() error {
		_, err := fmt.Sscanf(strings.TrimSpace(readFile(t, path)), "%d", &pid)
		return err
	})
	return pid
}
