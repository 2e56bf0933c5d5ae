package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C while `central dev` still monitors a -job file's deployment stops
// everything at once. It used to be noticed only when the monitor
// returned: here, after a 5 minute min_healthy_time.
func TestDevInterruptDuringJobMonitor(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "slow.hcl")
	if err := os.WriteFile(job, []byte(`job "slow" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel     = 1
      min_healthy_time = "5m"
      healthy_deadline = "10m"
      progress_deadline = "11m"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do sleep 0.2; done"]
      }
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "central dev", bins.central, "dev", "-http", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"-mqtt", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-data-dir", filepath.Join(dir, "data"),
		"-agent", bins.agent, "-job", job)
	eventually(t, 60*time.Second, func() error {
		if !strings.Contains(p.out.String(), "Monitoring deployment") {
			return fmt.Errorf("the -job file's deployment is not monitored yet")
		}
		return nil
	})
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("central dev still running 60 s after Ctrl-C (the deployment needs 5 min):\n%s", p.out.String())
	}
	out := p.out.String()
	i := strings.Index(out, "==> Stopping jobs")
	if i < 0 {
		t.Fatalf("no shutdown message:\n%s", out)
	}
	after := out[i:]
	for _, line := range []string{"==> Running.", "Deployment", "Error"} {
		if strings.Contains(after, line) {
			t.Errorf("%q printed after Ctrl-C, which came before the -job monitor ended:\n%s", line, out)
		}
	}
}
