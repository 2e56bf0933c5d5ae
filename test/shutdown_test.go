package test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C makes `central dev` stop the jobs and shut down; a second Ctrl-C
// while it waits (here: for a task that ignores SIGTERM and has a 60 s
// kill_timeout) ends it at once.
func TestDevSecondInterruptExitsAtOnce(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "task.pid")
	job := filepath.Join(dir, "stubborn.hcl")
	os.WriteFile(job, []byte(fmt.Sprintf(`job "stubborn" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver       = "exec"
      kill_timeout = "60s"
      config {
        command = "/bin/sh"
        args    = ["-c", "trap '' TERM; echo $$ > %s; while true; do sleep 0.2; done"]
      }
    }
  }
}
`, pidFile)), 0o644)
	p := start(t, "central dev", bins.central, "dev", "-http", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"-mqtt", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-data-dir", filepath.Join(dir, "data"),
		"-agent", bins.agent, "-job", job)
	t.Cleanup(func() {
		// The task outlives the killed agent by design: end it here.
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	eventually(t, 60*time.Second, func() error {
		if _, err := os.Stat(pidFile); err != nil || !strings.Contains(p.out.String(), "==> Running") {
			return fmt.Errorf("task not running yet")
		}
		return nil
	})
	p.cmd.Process.Signal(syscall.SIGINT)
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(p.out.String(), "==> Stopping jobs and shutting down") {
			return fmt.Errorf("no shutdown message yet")
		}
		return nil
	})
	if p.exited() {
		t.Fatal("central dev exited before its task stopped: the test cannot tell a second Ctrl-C from the first")
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("central dev still running 5 s after the second Ctrl-C:\n%s", p.out.String())
	}
	if !strings.Contains(p.out.String(), "Interrupted again: exiting now") {
		t.Errorf("no message about the second Ctrl-C:\n%s", p.out.String())
	}
}

// Ctrl-C makes `central server` shut down; a second Ctrl-C while it is
// still shutting down ends it at once, killed by the signal. Its shutdown
// is held up by a blocking query in flight: the HTTP server waits up to 2 s
// for it before Close goes on.
func TestServerSecondInterruptExitsAtOnce(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	// A blocking query that would wait a minute for an index that never
	// comes, then a request on a connection dialled after it: central
	// accepts connections in order, so once the second is answered it
	// holds the first, which its HTTP server's shutdown then waits for.
	query, err := net.Dial("tcp", c.http)
	if err != nil {
		t.Fatal(err)
	}
	defer query.Close()
	fmt.Fprint(query, "GET /v1/jobs?index=999999999999&wait=60s HTTP/1.1\r\nHost: central\r\n\r\n")
	after, err := net.Dial("tcp", c.http)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	fmt.Fprint(after, "GET /v1/status/leader HTTP/1.1\r\nHost: central\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(after), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status/leader: %v %v", resp, err)
	}
	resp.Body.Close()

	p := c.central
	p.cmd.Process.Signal(syscall.SIGINT)
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(p.out.String(), "==> Shutting down") {
			return fmt.Errorf("no shutdown message yet")
		}
		return nil
	})
	if p.exited() {
		t.Fatalf("central exited before its HTTP server let the blocking query go: the test cannot tell a second Ctrl-C from the first:\n%s", p.out.String())
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("central still running 10 s after the second Ctrl-C:\n%s", p.out.String())
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) {
		t.Fatalf("central exited with %v after the second Ctrl-C, want killed by SIGINT:\n%s", p.err, p.out.String())
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("central exited with %v after the second Ctrl-C, want killed by SIGINT (the first is handled, the second ends it):\n%s", p.err, p.out.String())
	}
}
