package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reschedAlloc is what this test reads of an allocation.
type reschedAlloc struct {
	ID                 string `json:"id"`
	NodeID             string `json:"node_id"`
	ClientStatus       string `json:"client_status"`
	DesiredStatus      string `json:"desired_status"`
	CreateTime         int64  `json:"create_time"`
	PreviousAllocation string `json:"previous_allocation"`
	NextAllocation     string `json:"next_allocation"`
	FollowupEvalID     string `json:"followup_eval_id"`
	RescheduleTracker  []struct {
		PrevAllocID string `json:"prev_alloc_id"`
		PrevNodeID  string `json:"prev_node_id"`
		Delay       int64  `json:"delay"`
	} `json:"reschedule_tracker"`
}

// A service task that fails its first run (it exits 1 unless a marker
// file, which that first run leaves, exists) is rescheduled by central
// after its reschedule delay, on the other node, with the links and the
// tracker visible in `alloc status` and the API.
func TestRescheduleFailedServiceToOtherNode(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	c.startAgent("edge-1")
	c.startAgent("edge-2")
	c.waitNode("edge-1", "ready", 20*time.Second)
	c.waitNode("edge-2", "ready", 20*time.Second)

	work := t.TempDir()
	src := fmt.Sprintf(`job "flaky" {
  datacenters = ["dc1"]

  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "if [ -e %[1]s/failed-once ]; then echo $NOMAD_ALLOC_ID > %[1]s/ok; while true; do sleep 1; done; fi; touch %[1]s/failed-once; exit 1"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, work)
	path := filepath.Join(work, "flaky.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", "-detach", path); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}

	// The first run fails; central names the delayed evaluation that will
	// replace it.
	var first reschedAlloc
	eventually(t, 60*time.Second, func() error {
		first = reschedAlloc{}
		for _, a := range c.allocs("flaky") {
			var full reschedAlloc
			if err := c.get("/v1/allocation/"+a.ID, &full); err != nil {
				return err
			}
			if full.PreviousAllocation == "" {
				first = full // the first run (a loaded machine may see its replacement already)
			}
		}
		if first.ID == "" {
			return fmt.Errorf("no allocation yet")
		}
		if first.ClientStatus != "failed" || first.FollowupEvalID == "" {
			return fmt.Errorf("first allocation is %s, follow-up %q", first.ClientStatus, first.FollowupEvalID)
		}
		return nil
	})
	var followup struct {
		TriggeredBy string `json:"triggered_by"`
		WaitUntil   int64  `json:"wait_until"`
		Status      string `json:"status"`
	}
	if err := c.get("/v1/evaluation/"+first.FollowupEvalID, &followup); err != nil {
		t.Fatal(err)
	}
	if followup.TriggeredBy != "alloc-failure" || followup.WaitUntil == 0 {
		t.Fatalf("follow-up evaluation %+v; want an alloc-failure evaluation with a wait_until", followup)
	}

	// The replacement runs on the other node, placed once the delay passed.
	var repl reschedAlloc
	eventually(t, 90*time.Second, func() error {
		var found []string
		for _, a := range c.allocs("flaky") {
			if a.ID == first.ID {
				continue
			}
			found = append(found, a.ID)
			if err := c.get("/v1/allocation/"+a.ID, &repl); err != nil {
				return err
			}
		}
		switch {
		case len(found) == 0:
			return fmt.Errorf("no replacement yet")
		case len(found) > 1:
			t.Fatalf("%d replacements %v; want one", len(found), found)
		case repl.ClientStatus != "running":
			return fmt.Errorf("replacement is %s", repl.ClientStatus)
		}
		return nil
	})
	if repl.PreviousAllocation != first.ID {
		t.Errorf("replacement's previous allocation %q; want %s", repl.PreviousAllocation, first.ID)
	}
	if repl.NodeID == first.NodeID {
		t.Errorf("replacement on the node where the first run failed (%s); want the other one", repl.NodeID)
	}
	if repl.CreateTime < followup.WaitUntil {
		t.Errorf("replacement placed %s before its delay ended", time.Duration(followup.WaitUntil-repl.CreateTime))
	}
	if len(repl.RescheduleTracker) != 1 || repl.RescheduleTracker[0].PrevAllocID != first.ID ||
		repl.RescheduleTracker[0].PrevNodeID != first.NodeID || repl.RescheduleTracker[0].Delay != int64(5*time.Second) {
		t.Errorf("tracker %+v; want one 5s reschedule from %s on %s", repl.RescheduleTracker, first.ID, first.NodeID)
	}
	if b, err := os.ReadFile(filepath.Join(work, "ok")); err != nil || strings.TrimSpace(string(b)) != repl.ID {
		t.Errorf("the replacement's task did not run: %q, %v", b, err)
	}
	eventually(t, 20*time.Second, func() error {
		if err := c.get("/v1/allocation/"+first.ID, &first); err != nil {
			return err
		}
		if first.NextAllocation != repl.ID || first.DesiredStatus != "stop" {
			return fmt.Errorf("first allocation: next %q, desired %s", first.NextAllocation, first.DesiredStatus)
		}
		return nil
	})

	out, code := c.cli("alloc", "status", first.ID[:8])
	if code != 0 || !strings.Contains(out, "Next Allocation") || !strings.Contains(out, repl.ID[:8]) {
		t.Errorf("alloc status of the failed allocation (exit %d) lacks its next allocation %s:\n%s", code, repl.ID[:8], out)
	}
	out, code = c.cli("alloc", "status", repl.ID[:8])
	if code != 0 || !strings.Contains(out, "Previous Allocation = "+first.ID[:8]) || !strings.Contains(out, "Reschedule Attempts = 1") {
		t.Errorf("alloc status of the replacement (exit %d) lacks its previous allocation %s and attempts:\n%s", code, first.ID[:8], out)
	}
}
