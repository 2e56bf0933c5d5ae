package test

import (
	"fmt"
	"os"
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
