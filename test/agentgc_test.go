package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// docs/agent.md "Allocation GC", end to end with real processes: 50 short
// batch jobs run to completion on an agent started with -gc-max-allocs 10;
// at most 10 allocation directories remain, and the running service's
// directory, task and files are untouched. node status shows the data
// dir's storage.
func TestAgentGCMaxAllocs(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("gc", "-gc-max-allocs", "10")
	c.waitNode("gc", "ready", 20*time.Second)
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if out, code := c.cli("job", "submit", write("keep", `job "keep" {
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
`)); code != 0 {
		t.Fatalf("submit keep exited %d:\n%s", code, out)
	}
	keep := c.waitRunning("keep", 1, 30*time.Second)[0]
	allocsDir := filepath.Join(c.dir, "agent-gc", "allocs")
	marker := filepath.Join(allocsDir, keep.ID, "alloc", "data", "marker")
	if err := os.WriteFile(marker, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}

	const n = 50
	most := 0 // allocation directories seen at once
	count := func() int {
		ents, err := os.ReadDir(allocsDir)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(ents))
		return len(ents)
	}
	for i := range n {
		c.submitShortBatch(dir, i)
		count()
	}
	eventually(t, 120*time.Second, func() error {
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
		count()
		if dead != n {
			return fmt.Errorf("%d of %d short jobs dead", dead, n)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		if got := count(); got > 10 {
			return fmt.Errorf("%d allocation directories, want at most 10 (gc_max_allocs)", got)
		}
		return nil
	})
	if b, err := os.ReadFile(marker); err != nil || string(b) != "keep me" {
		t.Fatalf("the running allocation's file: %q, %v", b, err)
	}
	now := c.allocs("keep")
	if len(now) != 1 || now[0].ID != keep.ID || now[0].ClientStatus != "running" || now[0].TaskStates["t"].Restarts != 0 {
		t.Fatalf("keep after the GC: %+v", now)
	}
	out, code := c.cli("node", "status", c.waitNode("gc", "ready", time.Second).ID)
	if code != 0 || !strings.Contains(out, "unique.storage.bytesfree") || !strings.Contains(out, "unique.storage.bytestotal") {
		t.Fatalf("node status exited %d, without the storage attributes:\n%s", code, out)
	}
	t.Logf("%d short batch jobs with gc_max_allocs 10: at most %d allocation directories seen at once, %d at the end", n, most, count())
}
