package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// periodicJobFile writes a periodic batch job whose task appends its job
// ID (the child's: <id>/periodic-<unix>) to out.
func periodicJobFile(t *testing.T, dir, id, cron, out string) string {
	t.Helper()
	path := filepath.Join(dir, id+".hcl")
	src := fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  type        = "batch"
  periodic {
    crons            = [%q]
    prohibit_overlap = false
  }
  group "g" {
    task "run" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"$NOMAD_JOB_ID\" >> %s"]
      }
    }
  }
}
`, id, cron, out)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runLines returns the job IDs the runs of a periodic job wrote.
func runLines(out string) []string {
	b, _ := os.ReadFile(out)
	return strings.Fields(string(b))
}

// A periodic job runs nothing at submit and runs on each tick of its cron
// (here every 5 seconds, with a seconds field); `job periodic force`
// launches one run now; `job status` shows the next launch and the
// children.
func TestPeriodicJobRunsOnEachTick(t *testing.T) {
	work := t.TempDir()
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)

	out := filepath.Join(work, "tick.txt")
	submitted := time.Now().Unix()
	o, code := c.cli("job", "run", periodicJobFile(t, work, "tick", "*/5 * * * * * *", out))
	if code != 0 || !strings.Contains(o, "Job registration successful") {
		t.Fatalf("job run exited %d:\n%s", code, o)
	}
	var evals []struct{ ID string }
	if err := c.get("/v1/job/tick/evaluations", &evals); err != nil || len(evals) != 0 {
		t.Fatalf("the periodic job itself was evaluated: %v %+v", err, evals)
	}

	// Two ticks run, each as its own child, at a multiple of 5 seconds
	// after the submit: nothing ran at the submit itself.
	eventually(t, 60*time.Second, func() error {
		if lines := runLines(out); len(lines) < 2 {
			return fmt.Errorf("%d runs so far: %q", len(lines), lines)
		}
		return nil
	})
	seen := map[string]bool{}
	for _, id := range runLines(out) {
		sec, err := strconv.ParseInt(strings.TrimPrefix(id, "tick/periodic-"), 10, 64)
		if err != nil || sec%5 != 0 || sec < submitted {
			t.Fatalf("a run as %q: not a child launched on a */5 tick after the submit at %d", id, submitted)
		}
		if seen[id] {
			t.Fatalf("child %s ran twice", id)
		}
		seen[id] = true
	}
	if as := c.allocs("tick"); len(as) != 0 {
		t.Fatalf("the periodic job itself has %d allocations", len(as))
	}

	var job struct {
		Status             string `json:"status"`
		NextPeriodicLaunch int64  `json:"next_periodic_launch"`
	}
	if err := c.get("/v1/job/tick", &job); err != nil || job.Status != "running" || job.NextPeriodicLaunch == 0 {
		t.Fatalf("GET /v1/job/tick: %v %+v, want running with a next launch", err, job)
	}
	if next := time.Unix(0, job.NextPeriodicLaunch); next.Unix()%5 != 0 || next.Before(time.Now().Add(-time.Second)) {
		t.Fatalf("next launch %v is not a coming */5 tick", next)
	}
	o, code = c.cli("job", "status", "tick")
	if code != 0 || !strings.Contains(o, "Next Periodic Launch") || !strings.Contains(o, "tick/periodic-") {
		t.Fatalf("job status exited %d, without the next launch or the children:\n%s", code, o)
	}

	// A periodic job whose cron is far away runs only when forced.
	nightlyOut := filepath.Join(work, "nightly.txt")
	if o, code := c.cli("job", "run", periodicJobFile(t, work, "nightly", "0 3 1 1 *", nightlyOut)); code != 0 {
		t.Fatalf("job run nightly exited %d:\n%s", code, o)
	}
	o, code = c.cli("job", "periodic", "force", "nightly")
	if code != 0 {
		t.Fatalf("periodic force exited %d:\n%s", code, o)
	}
	var child string
	for _, line := range strings.Split(o, "\n") {
		if id, ok := strings.CutPrefix(line, "Launched Job ID = "); ok {
			child = strings.TrimSpace(id)
		}
	}
	if !strings.HasPrefix(child, "nightly/periodic-") {
		t.Fatalf("periodic force printed no launched job:\n%s", o)
	}
	eventually(t, 30*time.Second, func() error {
		if lines := runLines(nightlyOut); len(lines) != 1 || lines[0] != child {
			return fmt.Errorf("nightly runs %q, want one run of %s", lines, child)
		}
		return nil
	})

	// Stopping the periodic job ends its launches; the children stay.
	if o, code := c.cli("job", "stop", "tick"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, o)
	}
	job.NextPeriodicLaunch = 0 // absent when none will come
	if err := c.get("/v1/job/tick", &job); err != nil || job.Status != "dead" || job.NextPeriodicLaunch != 0 {
		t.Fatalf("stopped periodic job: %v %+v, want dead with no next launch", err, job)
	}
}
