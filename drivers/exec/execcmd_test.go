//go:build linux

package exec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// syncBuf is a bytes.Buffer safe for the copying goroutines.
type syncBuf struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuf() *syncBuf { return &syncBuf{mu: make(chan struct{}, 1)} }

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// A command run in a task sees the task's environment and directory,
// gets its stdin, and its exit code comes back.
func TestExecInTaskContext(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `sleep 60`)
	cfg.Env["EXEC_PROBE"] = "from-the-task"
	h := start(t, d, cfg)
	t.Cleanup(func() { _ = h.Stop(time.Second, "SIGKILL") })
	var out, errb = newSyncBuf(), newSyncBuf()
	code, err := h.(drivers.Execer).Exec(context.Background(), drivers.ExecOptions{
		Command: []string{"sh", "-c", `echo "$EXEC_PROBE"; pwd; read line; echo "got $line"; echo oops >&2; exit 3`},
		Stdin:   strings.NewReader("typed\n"), Stdout: out, Stderr: errb,
	})
	if err != nil || code != 3 {
		t.Fatalf("Exec = %d, %v; want 3", code, err)
	}
	want := "from-the-task\n" + cfg.TaskDir + "\ngot typed\n"
	if out.String() != want || errb.String() != "oops\n" {
		t.Fatalf("stdout %q stderr %q, want %q and \"oops\\n\"", out.String(), errb.String(), want)
	}
}

// With a TTY the command has a terminal of the size asked for, and what
// is typed is echoed by it.
func TestExecTTY(t *testing.T) {
	d := New(testLogger())
	h := start(t, d, newTask(t, "a1/web", `sleep 60`))
	t.Cleanup(func() { _ = h.Stop(time.Second, "SIGKILL") })
	pr, pw := io.Pipe()
	out := newSyncBuf()
	resize := make(chan drivers.TermSize, 1)
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(done)
		code, err = h.(drivers.Execer).Exec(context.Background(), drivers.ExecOptions{
			Command: []string{"sh"}, TTY: true, Size: drivers.TermSize{Width: 91, Height: 27},
			Resize: resize, Stdin: pr, Stdout: out,
		})
	}()
	_, _ = pw.Write([]byte("stty size; tty\n"))
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(out.String(), "27 91") || !strings.Contains(out.String(), "/dev/pts/") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	resize <- drivers.TermSize{Width: 120, Height: 40}
	_, _ = pw.Write([]byte("stty size\n"))
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(out.String(), "40 120") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	_, _ = pw.Write([]byte("exit 7\n"))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Exec did not return after exit")
	}
	pw.Close()
	if err != nil || code != 7 {
		t.Fatalf("Exec = %d, %v; want 7", code, err)
	}
}

// Cancelling the context kills the command.
func TestExecCancelKills(t *testing.T) {
	d := New(testLogger())
	h := start(t, d, newTask(t, "a1/web", `sleep 60`))
	t.Cleanup(func() { _ = h.Stop(time.Second, "SIGKILL") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.(drivers.Execer).Exec(ctx, drivers.ExecOptions{Command: []string{"sleep", "300"}, Stdout: io.Discard, Stderr: io.Discard})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled Exec returned no error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Exec did not return after its context ended")
	}
}
