package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// docs/jobspec.md (job types): a sysbatch job runs once to completion on
// every eligible node, and once on a node that joins while it is live.
// Each run appends a line to a file named after its allocation, so a task
// run twice (restarted after exiting 0, or placed again) shows.
func TestSysBatchRunsOnceOnEveryNodeAndOnANodeThatJoins(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	work := t.TempDir()
	for _, n := range []string{"sb1", "sb2", "sb3"} {
		c.startAgent(n)
	}
	nodeNames := map[string]string{} // node ID -> name
	for _, n := range []string{"sb1", "sb2", "sb3"} {
		nodeNames[c.waitNode(n, "ready", 30*time.Second).ID] = n
	}
	src := fmt.Sprintf(`job "inventory" {
  type        = "sysbatch"
  datacenters = ["dc1"]

  task "collect" {
    driver = "exec"
    config {
      command = "/bin/sh"
      args    = ["-c", "echo ran >> %s/run-$NOMAD_ALLOC_ID"]
    }
    resources {
      cpu    = 50
      memory = 32
    }
  }
}
`, work)
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", path); code != 0 {
		t.Fatalf("job submit exited %d: %s", code, out)
	}

	// ranOnce waits until the job has exactly one complete allocation on
	// each named node and nothing else, and its task ran exactly once in
	// each, and the job is dead.
	ranOnce := func(names ...string) {
		t.Helper()
		eventually(t, 60*time.Second, func() error {
			as := c.allocs("inventory")
			on := map[string]int{}
			for _, a := range as {
				if a.ClientStatus != "complete" {
					return fmt.Errorf("allocation %s on %s is %s", a.ID, nodeNames[a.NodeID], a.ClientStatus)
				}
				on[nodeNames[a.NodeID]]++
			}
			if len(as) != len(names) {
				return fmt.Errorf("%d allocations (%v), want one on each of %v", len(as), on, names)
			}
			for _, n := range names {
				if on[n] != 1 {
					return fmt.Errorf("allocations per node %v, want one on each of %v", on, names)
				}
			}
			for _, a := range as {
				b, err := os.ReadFile(filepath.Join(work, "run-"+a.ID))
				if err != nil {
					return fmt.Errorf("allocation %s on %s: %v", a.ID, nodeNames[a.NodeID], err)
				}
				if runs := strings.Count(string(b), "ran\n"); runs != 1 {
					return fmt.Errorf("allocation %s on %s ran %d times, want once", a.ID, nodeNames[a.NodeID], runs)
				}
			}
			var job struct {
				Status string `json:"status"`
			}
			if err := c.get("/v1/job/inventory", &job); err != nil {
				return err
			}
			if job.Status != "dead" {
				return fmt.Errorf("job status %q, want dead once every allocation finished", job.Status)
			}
			return nil
		})
	}
	ranOnce("sb1", "sb2", "sb3")

	c.startAgent("sb4")
	nodeNames[c.waitNode("sb4", "ready", 30*time.Second).ID] = "sb4"
	ranOnce("sb1", "sb2", "sb3", "sb4")
	files, err := filepath.Glob(filepath.Join(work, "run-*"))
	if err != nil || len(files) != 4 {
		t.Errorf("run files %v (%v), want 4: one per node", files, err)
	}
}
