package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rollJob writes a service job with an update block (one at a time, task
// states, auto_revert) whose task runs the shell command cmd.
func rollJob(t *testing.T, dir, cmd string) string {
	t.Helper()
	src := fmt.Sprintf(`job "roll" {
  datacenters = ["dc1"]

  update {
    max_parallel      = 1
    health_check      = "task_states"
    min_healthy_time  = "1s"
    healthy_deadline  = "20s"
    progress_deadline = "40s"
    auto_revert       = true
  }

  group "g" {
    count = 2

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, cmd)
	path := filepath.Join(dir, "roll.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// docs/cli.md "Jobs with an update block": job run follows the
// deployment and exits 0 once it succeeded; a version whose task fails
// makes its deployment fail, auto_revert registers the stable version
// again, and job run exits 1 saying so. job history -p and job revert
// work on the versions that made.
func TestSubmitFollowsDeploymentAndFailsOnRevert(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("a")
	c.waitNode("a", "ready", 20*time.Second)
	dir := t.TempDir()

	out, code := c.cli("job", "run", rollJob(t, dir, "sleep 600"))
	if code != 0 || !strings.Contains(out, "Monitoring deployment") || !strings.Contains(out, `version 0 of job "roll" is stable`) {
		t.Fatalf("good version: exit %d, want 0 after a successful deployment:\n%s", code, out)
	}

	start := time.Now()
	out, code = c.cli("job", "run", rollJob(t, dir, "exit 3"))
	t.Logf("bad version: job run returned after %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if code != 1 {
		t.Fatalf("bad version: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"Monitoring deployment", "failed", "The job was reverted: version 2 is a copy of version 0."} {
		if !strings.Contains(out, want) {
			t.Errorf("bad version's output lacks %q:\n%s", want, out)
		}
	}

	// The reverted version rolls out and runs: two allocations of
	// version 2, running.
	eventually(t, 60*time.Second, func() error {
		n := 0
		for _, a := range c.allocs("roll") {
			if a.JobVersion == 2 && a.DesiredStatus == "run" && a.ClientStatus == "running" {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d running allocations of version 2, want 2: %+v", n, c.allocs("roll"))
		}
		return nil
	})

	out, code = c.cli("job", "history", "-p", "roll")
	if code != 0 || !strings.Contains(out, `~ task_groups["g"].tasks["t"].config.args: ["-c", "exit 3"] => ["-c", "sleep 600"]`) {
		t.Errorf("job history -p: exit %d, want the revert's diff:\n%s", code, out)
	}
	out, code = c.cli("job", "revert", "-detach", "roll", "7")
	if code != 1 || !strings.Contains(out, "no version 7 any more") {
		t.Errorf("revert to a version never made: exit %d:\n%s", code, out)
	}
}
