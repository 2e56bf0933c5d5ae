package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/test/partition"
)

type allocDetail struct {
	alloc
	Name               string `json:"name"`
	PreviousAllocation string `json:"previous_allocation"`
	Events             []struct {
		Type string `json:"type"`
	} `json:"events"`
}

func (c *cluster) allocDetail(id string) allocDetail {
	var a allocDetail
	if err := c.get("/v1/allocation/"+id, &a); err != nil {
		c.t.Fatalf("allocation %s: %v", id, err)
	}
	return a
}

func (a allocDetail) hasEvent(typ string) bool {
	for _, e := range a.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// edgeJob is the tutorial's edge job: one instance in dc2 that may wait
// out an outage (disconnectBlock), with a service, writing its pid.
func edgeJob(t *testing.T, work, disconnectBlock string) string {
	path := filepath.Join(work, "edge.hcl")
	os.WriteFile(path, []byte(fmt.Sprintf(`job "edge" {
  datacenters = ["dc2"]
  group "payments" {
    %s
    update {
      max_parallel = 0 # all at once: these tests are about outages, not rollouts
    }
    service {
      name = "payments-api"
    }
    task "pay" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ >> %s/pids-$${NOMAD_ALLOC_ID}; exec sleep 3600"]
      }
    }
  }
}
`, disconnectBlock, work)), 0o644)
	return path
}

// partitioned starts a dc2 agent whose link to the broker goes through a
// proxy the test can blackhole.
func (c *cluster) partitionedAgent(name string) *partition.Proxy {
	c.t.Helper()
	p, err := partition.NewProxy(strings.TrimPrefix(c.broker, "tcp://"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { p.Close() })
	c.startAgent(name, "-datacenter", "dc2", "-broker", "tcp://"+p.Addr())
	return p
}

// The tutorial's disconnect drill: the edge node running the job loses its
// link; central marks it disconnected, the alloc unknown, and runs a
// replacement on the other edge node (the service lists both); when the
// link returns, the original (tie on score: the original wins) keeps
// running, untouched, with a Reconnected event, and the replacement stops.
func TestDisconnectReplaceAndReconnect(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	work := t.TempDir()
	link := c.partitionedAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", edgeJob(t, work, `max_client_disconnect = "1h"`)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	c.startAgent("edge-2", "-datacenter", "dc2")
	c.waitNode("edge-2", "ready", 20*time.Second)

	link.Blackhole()
	c.waitNode("edge-1", "disconnected", 20*time.Second)
	c.waitUnknown(original.ID, 20*time.Second)
	replacement := c.waitReplacement("edge", original, 20*time.Second, nil)
	if got := c.service("payments-api", true); len(got) != 2 {
		t.Errorf("during the outage the service should list both instances, got %+v", got)
	}

	link.Pass()
	c.waitNode("edge-1", "ready", 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		o, r := c.allocDetail(original.ID), c.allocDetail(replacement.ID)
		if o.ClientStatus != "running" || o.DesiredStatus != "run" || !o.hasEvent("Reconnected") {
			return fmt.Errorf("original is %s/%s, events %+v", o.ClientStatus, o.DesiredStatus, o.Events)
		}
		if r.DesiredStatus != "stop" || r.ClientStatus != "complete" {
			return fmt.Errorf("replacement is %s/%s, want complete/stop", r.ClientStatus, r.DesiredStatus)
		}
		if got := c.service("payments-api", true); len(got) != 1 || got[0].AllocID != original.ID {
			return fmt.Errorf("service instances after reconnect: %+v", got)
		}
		return nil
	})
	// The original never restarted: one pid line in its file.
	b, _ := os.ReadFile(filepath.Join(work, "pids-"+original.ID))
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Fatalf("the original task started %d times:\n%s", n, b)
	}
}

// replace = false: no replacement while the node is away; the original
// simply carries on when it returns.
func TestDisconnectWithoutReplacement(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	work := t.TempDir()
	link := c.partitionedAgent("edge-1")
	c.startAgent("edge-2", "-datacenter", "dc2")
	c.waitNode("edge-1", "ready", 20*time.Second)
	c.waitNode("edge-2", "ready", 20*time.Second)
	// The constraint keeps the job on the node we cut.
	path := edgeJob(t, work, "disconnect {\n      lost_after = \"1h\"\n      replace    = false\n    }\n    constraint {\n      attribute = \"${node.unique.name}\"\n      value     = \"edge-1\"\n    }")
	if out, code := c.cli("job", "submit", path); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	link.Blackhole()
	c.waitNode("edge-1", "disconnected", 20*time.Second)
	c.waitUnknown(original.ID, 10*time.Second)
	if as := c.allocs("edge"); len(as) != 1 {
		t.Fatalf("replace = false placed a replacement: %+v", as)
	}
	link.Pass()
	eventually(t, 30*time.Second, func() error {
		if a := c.allocDetail(original.ID); a.ClientStatus != "running" || a.DesiredStatus != "run" {
			return fmt.Errorf("original is %s/%s", a.ClientStatus, a.DesiredStatus)
		}
		return nil
	})
}

// After lost_after the node is down and its allocation lost for good: a
// late return does not revive it, and the agent stops the task.
func TestDisconnectLostAfterExpiry(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	work := t.TempDir()
	link := c.partitionedAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", edgeJob(t, work, "disconnect {\n      lost_after = \"3s\"\n    }")); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	pid := readPid(t, filepath.Join(work, "pids-"+original.ID))
	link.Blackhole()
	c.waitNode("edge-1", "disconnected", 20*time.Second)
	c.waitNode("edge-1", "down", 20*time.Second)
	eventually(t, 10*time.Second, func() error {
		if a := c.allocDetail(original.ID); a.ClientStatus != "lost" {
			return fmt.Errorf("original is %s, want lost", a.ClientStatus)
		}
		return nil
	})
	link.Pass()
	c.waitNode("edge-1", "ready", 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		if pidAlive(pid) {
			return fmt.Errorf("the lost allocation's task %d still runs after its node returned", pid)
		}
		if a := c.allocDetail(original.ID); a.ClientStatus != "lost" {
			return fmt.Errorf("the late report revived the lost alloc: %s", a.ClientStatus)
		}
		return nil
	})
}

// The job changes while its node is away: the replacement runs the new
// version, and on reconnect the newest version wins over the original.
func TestDisconnectJobUpdatedDuringOutage(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	work := t.TempDir()
	link := c.partitionedAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	path := edgeJob(t, work, `max_client_disconnect = "1h"`)
	if out, code := c.cli("job", "submit", path); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	c.startAgent("edge-2", "-datacenter", "dc2")
	c.waitNode("edge-2", "ready", 20*time.Second)

	link.Blackhole()
	c.waitNode("edge-1", "disconnected", 20*time.Second)
	// A new version of the job (a changed environment) while edge-1 is away.
	b, _ := os.ReadFile(path)
	updated := strings.Replace(string(b), `driver = "exec"`, "driver = \"exec\"\n      env {\n        RELEASE = \"2\"\n      }", 1)
	os.WriteFile(path, []byte(updated), 0o644)
	if out, code := c.cli("job", "submit", "-detach", path); code != 0 {
		t.Fatalf("resubmit exited %d:\n%s", code, out)
	}
	replacement := c.waitReplacement("edge", original, 30*time.Second, func(a alloc) bool { return a.JobVersion > original.JobVersion })

	link.Pass()
	c.waitNode("edge-1", "ready", 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		o, r := c.allocDetail(original.ID), c.allocDetail(replacement.ID)
		if o.DesiredStatus != "stop" {
			return fmt.Errorf("the old-version original is %s/%s, want stopped", o.ClientStatus, o.DesiredStatus)
		}
		if r.ClientStatus != "running" || r.DesiredStatus != "run" {
			return fmt.Errorf("the new-version replacement is %s/%s", r.ClientStatus, r.DesiredStatus)
		}
		return nil
	})
}

// best_score: a replacement placed on a node that ranks higher (bin
// packing prefers the fuller node) is kept on reconnect and the original
// is stopped.
func TestDisconnectHigherScoreReplacementKept(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "2s"})
	work := t.TempDir()
	link := c.partitionedAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", edgeJob(t, work, `max_client_disconnect = "1h"`)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	// edge-2 joins already busy: a filler job takes a good share of its CPU.
	c.startAgent("edge-2", "-datacenter", "dc2")
	c.waitNode("edge-2", "ready", 20*time.Second)
	filler := filepath.Join(work, "filler.hcl")
	os.WriteFile(filler, []byte(`job "filler" {
  datacenters = ["dc2"]
  group "f" {
    update {
      max_parallel = 0
    }
    constraint {
      attribute = "${node.unique.name}"
      value     = "edge-2"
    }
    task "f" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
`), 0o644)
	if out, code := c.cli("job", "submit", filler); code != 0 {
		t.Fatalf("filler submit exited %d:\n%s", code, out)
	}
	c.waitRunning("filler", 1, 20*time.Second)

	link.Blackhole()
	c.waitNode("edge-1", "disconnected", 20*time.Second)
	replacement := c.waitReplacement("edge", original, 20*time.Second, nil)
	if replacement.Score <= original.Score {
		t.Fatalf("the replacement's score %.3f is not above the original's %.3f: the test's premise failed", replacement.Score, original.Score)
	}

	link.Pass()
	c.waitNode("edge-1", "ready", 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		o, r := c.allocDetail(original.ID), c.allocDetail(replacement.ID)
		if o.DesiredStatus != "stop" {
			return fmt.Errorf("the lower-score original is %s/%s, want stopped", o.ClientStatus, o.DesiredStatus)
		}
		if r.ClientStatus != "running" || r.DesiredStatus != "run" {
			return fmt.Errorf("the higher-score replacement is %s/%s", r.ClientStatus, r.DesiredStatus)
		}
		return nil
	})
}

// waitReplacement waits for a running allocation of job, other than
// original, that also satisfies ok (nil: any), and returns it.
func (c *cluster) waitReplacement(job string, original alloc, timeout time.Duration, ok func(alloc) bool) alloc {
	c.t.Helper()
	var found alloc
	eventually(c.t, timeout, func() error {
		for _, a := range c.allocs(job) {
			if a.ID != original.ID && a.ClientStatus == "running" && (ok == nil || ok(a)) {
				found = a
				return nil
			}
		}
		return fmt.Errorf("no running replacement of %s: %+v", original.ID, c.allocs(job))
	})
	return found
}

// waitUnknown waits until an allocation is unknown and still desired.
func (c *cluster) waitUnknown(id string, timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, func() error {
		if a := c.allocDetail(id); a.ClientStatus != "unknown" || a.DesiredStatus != "run" {
			return fmt.Errorf("allocation %s is %s/%s, want unknown/run", id, a.ClientStatus, a.DesiredStatus)
		}
		return nil
	})
}
