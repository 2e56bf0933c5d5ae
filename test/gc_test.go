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

// docs/operations.md "Garbage collection on central", end to end with
// real processes: ten short batch jobs run to completion on a real agent;
// `central system gc` removes them from `job status`, /v1/allocations and
// /v1/evaluations, and a snapshot saved afterwards is smaller. A running
// service job is untouched. The agent (-gc-interval 1s) keeps the
// finished allocations' directories while central holds them, and removes
// them once central's GC has collected them (Desired.Kept).
func TestSystemGCAfterShortBatchJobs(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1", "-gc-interval", "1s")
	c.waitNode("edge-1", "ready", 20*time.Second)
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	svc := write("keep", `job "keep" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`)
	if out, code := c.cli("job", "submit", svc); code != 0 {
		t.Fatalf("submit keep exited %d:\n%s", code, out)
	}
	c.waitRunning("keep", 1, 30*time.Second)
	const n = 10
	for i := range n {
		c.submitShortBatch(dir, i)
	}
	eventually(t, 60*time.Second, func() error {
		var jobs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := c.get("/v1/jobs", &jobs); err != nil {
			return err
		}
		dead := 0
		for _, j := range jobs {
			if strings.HasPrefix(j.ID, "short-") && j.Status == "dead" {
				dead++
			}
		}
		if dead != n {
			return fmt.Errorf("%d of %d short jobs dead", dead, n)
		}
		return nil
	})
	snap := func(name string) int64 {
		f := filepath.Join(dir, name)
		if out, code := c.cli("operator", "snapshot", "save", f); code != 0 {
			t.Fatalf("snapshot save exited %d:\n%s", code, out)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := snap("before.snap")
	var short []struct {
		ID    string `json:"id"`
		JobID string `json:"job_id"`
	}
	if err := c.get("/v1/allocations", &short); err != nil {
		t.Fatal(err)
	}
	finished := ""
	for _, a := range short {
		if a.JobID == "short-0" {
			finished = a.ID
		}
	}
	if out, code := c.cli("alloc", "logs", finished); code != 0 {
		t.Fatalf("alloc logs of finished %s before gc exited %d:\n%s", finished, code, out)
	}
	allocsDir := filepath.Join(c.dir, "agent-edge-1", "allocs")
	dirs := func() []string {
		ents, err := os.ReadDir(allocsDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	if got := dirs(); len(got) != n+1 {
		t.Fatalf("%d allocation directories before system gc, want %d (central still holds the finished ones): %v", len(got), n+1, got)
	}

	out, code := c.cli("system", "gc")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("Garbage collected: %d jobs", n)) {
		t.Fatalf("system gc exited %d:\n%s", code, out)
	}
	out, _ = c.cli("job", "status")
	if strings.Contains(out, "short-") || !strings.Contains(out, "keep") {
		t.Fatalf("job status after gc:\n%s", out)
	}
	var allocs []struct {
		ID           string `json:"id"`
		JobID        string `json:"job_id"`
		ClientStatus string `json:"client_status"`
	}
	if err := c.get("/v1/allocations", &allocs); err != nil {
		t.Fatal(err)
	}
	if len(allocs) != 1 || allocs[0].JobID != "keep" || allocs[0].ClientStatus != "running" {
		t.Fatalf("/v1/allocations after gc: %+v, want keep's running allocation only", allocs)
	}
	if out, code := c.cli("alloc", "logs", finished); code == 0 || !strings.Contains(out, "garbage collection removes the allocation") {
		t.Fatalf("alloc logs of collected %s exited %d, want the GC named:\n%s", finished, code, out)
	}
	eventually(t, 30*time.Second, func() error {
		if got := dirs(); len(got) != 1 || got[0] != allocs[0].ID {
			return fmt.Errorf("allocation directories after system gc: %v, want only keep's %s", got, allocs[0].ID)
		}
		return nil
	})
	// The agent's heartbeats bring its disk and its GC's work to /v1/metrics.
	eventually(t, 30*time.Second, func() error {
		text, err := getText("http://" + c.http + "/v1/metrics")
		if err != nil {
			return err
		}
		var removed, used float64 = -1, -1
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			v, _ := strconv.ParseFloat(f[1], 64)
			switch {
			case strings.HasPrefix(f[0], "tether_agent_gc_removed_total{"):
				removed = v
			case strings.HasPrefix(f[0], "tether_agent_disk_used_bytes{"):
				used = v
			}
		}
		if removed != n || used <= 0 {
			return fmt.Errorf("/v1/metrics: tether_agent_gc_removed_total %v (want %d), tether_agent_disk_used_bytes %v", removed, n, used)
		}
		return nil
	})
	var evals []struct {
		JobID string `json:"job_id"`
	}
	if err := c.get("/v1/evaluations", &evals); err != nil {
		t.Fatal(err)
	}
	for _, e := range evals {
		if strings.HasPrefix(e.JobID, "short-") {
			t.Fatalf("/v1/evaluations still lists an evaluation of %s", e.JobID)
		}
	}
	after := snap("after.snap")
	if after >= before {
		t.Fatalf("snapshot %d bytes after gc, %d before: want smaller", after, before)
	}
	t.Logf("snapshot: %d bytes before system gc, %d after (%d short batch jobs collected)", before, after, n)
}

// submitShortBatch writes job "short-<i>", a batch job of one /bin/true
// exec task, under dir and submits it without waiting for it.
func (c *cluster) submitShortBatch(dir string, i int) {
	c.t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("short%d.hcl", i))
	src := fmt.Sprintf(`job "short-%d" {
  type        = "batch"
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`, i)
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", "-detach", f); code != 0 {
		c.t.Fatalf("submit short-%d exited %d:\n%s", i, code, out)
	}
}
