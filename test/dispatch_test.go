package test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A parameterized job runs nothing when it is registered; `job dispatch`
// with -meta and a payload file creates a child whose task sees the meta
// as NOMAD_META_x and the payload at local/input.json, and the parent's
// status lists the child.
func TestDispatchParameterizedJob(t *testing.T) {
	work := t.TempDir()
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)

	out := filepath.Join(work, "out.txt")
	jobFile := filepath.Join(work, "render.hcl")
	os.WriteFile(jobFile, []byte(fmt.Sprintf(`job "render" {
  datacenters = ["dc1"]
  type        = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["x"]
  }
  group "g" {
    task "work" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "{ echo \"x=$NOMAD_META_x\"; cat local/input.json; } > %[1]s.tmp && mv %[1]s.tmp %[1]s"]
      }
      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
`, out)), 0o644)
	if o, code := c.cli("job", "submit", jobFile); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, o)
	}
	// Registering it evaluates and places nothing.
	var evals []struct{ ID string }
	if err := c.get("/v1/job/render/evaluations", &evals); err != nil || len(evals) != 0 {
		t.Fatalf("evaluations of the parameterized job: %v %+v", err, evals)
	}

	payload := filepath.Join(work, "input.json")
	os.WriteFile(payload, []byte(`{"frames": 24}`), 0o644)
	o, code := c.cli("job", "dispatch", "-meta", "x=1", "render", payload)
	if code != 0 {
		t.Fatalf("dispatch exited %d:\n%s", code, o)
	}
	var childID string
	for _, line := range strings.Split(o, "\n") {
		if id, ok := strings.CutPrefix(line, "Dispatched Job ID = "); ok {
			childID = id
		}
	}
	if !strings.HasPrefix(childID, "render/dispatch-") || !strings.Contains(o, "Evaluation ID") {
		t.Fatalf("dispatch output has no child job ID and evaluation:\n%s", o)
	}
	eventually(t, 30*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return fmt.Errorf("the dispatched task wrote nothing yet: %v", err)
		}
		if got := string(b); got != "x=1\n{\"frames\": 24}" {
			return fmt.Errorf("the task saw %q, want the meta and the payload", got)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		var as []alloc
		if err := c.get("/v1/job/"+url.PathEscape(childID)+"/allocations", &as); err != nil {
			return err
		}
		if len(as) != 1 || as[0].ClientStatus != "complete" {
			return fmt.Errorf("child allocations: %+v", as)
		}
		return nil
	})
	if as := c.allocs("render"); len(as) != 0 {
		t.Fatalf("the parameterized job itself was placed: %+v", as)
	}
	o, code = c.cli("job", "status", "render")
	if code != 0 || !strings.Contains(o, "Dispatched Jobs") || !strings.Contains(o, childID) {
		t.Fatalf("job status of the parent (exit %d) does not list %s:\n%s", code, childID, o)
	}

	// A dispatch the parameterized block refuses places nothing and says why.
	o, code = c.cli("job", "dispatch", "-detach", "-meta", "x=1", "-meta", "y=2", "render", payload)
	if code == 0 || !strings.Contains(o, "meta keys the job does not accept: y") {
		t.Fatalf("dispatch with an unknown meta key: exit %d:\n%s", code, o)
	}
	o, code = c.cli("job", "dispatch", "-detach", "-meta", "x=1", "render")
	if code == 0 || !strings.Contains(o, "requires a payload") {
		t.Fatalf("dispatch without the required payload: exit %d:\n%s", code, o)
	}
}

// A dispatch made while no node can run it (the site's only agent is not
// up yet) waits, and runs once the agent registers, as Nomad's blocked
// evaluations do.
func TestDispatchWaitsForANode(t *testing.T) {
	work := t.TempDir()
	c := startCentral(t, clusterOpts{})
	out := filepath.Join(work, "out.txt")
	jobFile := filepath.Join(work, "later.hcl")
	os.WriteFile(jobFile, []byte(fmt.Sprintf(`job "later" {
  datacenters = ["dc1"]
  type        = "batch"
  parameterized {
    meta_required = ["x"]
  }
  group "g" {
    task "work" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"x=$NOMAD_META_x\" > %[1]s.tmp && mv %[1]s.tmp %[1]s"]
      }
    }
  }
}
`, out)), 0o644)
	if o, code := c.cli("job", "submit", jobFile); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, o)
	}
	if o, code := c.cli("job", "dispatch", "-detach", "-meta", "x=late", "later"); code != 0 {
		t.Fatalf("dispatch exited %d:\n%s", code, o)
	}
	c.startAgent("edge-1")
	eventually(t, 40*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err != nil || string(b) != "x=late\n" {
			return fmt.Errorf("the dispatched task has not run on the agent that joined: %q %v", b, err)
		}
		return nil
	})
}
