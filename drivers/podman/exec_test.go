package podman

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// lockedBuf is a bytes.Buffer safe for the copying goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A command runs in the container: the task's environment, stdin in,
// stdout and stderr apart, its exit code back.
func TestExecInContainer(t *testing.T) {
	e := newEnv(t)
	d := e.driver(Options{})
	cfg := e.task(t, "web", "sleep 300")
	cfg.Env["EXEC_PROBE"] = "in-the-container"
	h := start(t, d, cfg)
	t.Cleanup(func() { _ = h.Stop(time.Second, "SIGKILL") })
	var out, errb lockedBuf
	code, err := h.(drivers.Execer).Exec(context.Background(), drivers.ExecOptions{
		Command: []string{"sh", "-c", `echo "$EXEC_PROBE"; read l; echo "got $l"; echo oops >&2; exit 3`},
		Stdin:   strings.NewReader("typed\n"), Stdout: &out, Stderr: &errb,
	})
	if err != nil || code != 3 {
		t.Fatalf("Exec = %d, %v; want 3 (stdout %q, stderr %q)", code, err, out.String(), errb.String())
	}
	if out.String() != "in-the-container\ngot typed\n" || errb.String() != "oops\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

// With a TTY: a terminal of the size asked for, resized, echoing input.
func TestExecInContainerTTY(t *testing.T) {
	e := newEnv(t)
	d := e.driver(Options{})
	h := start(t, d, e.task(t, "web", "sleep 300"))
	t.Cleanup(func() { _ = h.Stop(time.Second, "SIGKILL") })
	pr, pw := io.Pipe()
	var out lockedBuf
	resize := make(chan drivers.TermSize, 1)
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(done)
		code, err = h.(drivers.Execer).Exec(context.Background(), drivers.ExecOptions{
			Command: []string{"sh"}, TTY: true, Size: drivers.TermSize{Width: 91, Height: 27},
			Resize: resize, Stdin: pr, Stdout: &out,
		})
	}()
	_, _ = pw.Write([]byte("echo sum=$((40+2))\n"))
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(out.String(), "sum=42") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	resize <- drivers.TermSize{Width: 120, Height: 40}
	eventually(t, 20*time.Second, func() error {
		_, _ = pw.Write([]byte("stty size\n"))
		if !strings.Contains(out.String(), "40 120") {
			return fmt.Errorf("output so far %q", out.String())
		}
		return nil
	})
	_, _ = pw.Write([]byte("exit 7\n"))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("Exec did not return after exit; output %q", out.String())
	}
	pw.Close()
	if err != nil || code != 7 {
		t.Fatalf("Exec = %d, %v; want 7", code, err)
	}
}
