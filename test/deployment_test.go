package test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// deployment is what these tests read of GET /v1/deployment(s).
type deployment struct {
	ID                string `json:"id"`
	JobVersion        uint64 `json:"job_version"`
	Status            string `json:"status"`
	StatusDescription string `json:"status_description"`
	TaskGroups        map[string]struct {
		DesiredCanaries int  `json:"desired_canaries"`
		Promoted        bool `json:"promoted"`
		HealthyAllocs   int  `json:"healthy_allocs"`
	} `json:"task_groups"`
}

func (c *cluster) jobDeployment(job string, version uint64) (*deployment, error) {
	var ds []deployment
	if err := c.get("/v1/job/"+job+"/deployments", &ds); err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.JobVersion == version {
			return &d, nil
		}
	}
	return nil, fmt.Errorf("job %s has no deployment of version %d yet (%d deployments)", job, version, len(ds))
}

// healthySampler counts, every 100ms, the healthy instances of a service
// in the catalogue and keeps the lowest count seen.
type healthySampler struct {
	mu      sync.Mutex
	low     int
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func (c *cluster) sampleHealthy(service string) *healthySampler {
	s := &healthySampler{low: 1 << 30, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			var inst []serviceInstance
			if err := c.get("/v1/service/"+service, &inst); err != nil {
				continue
			}
			healthy := 0
			for _, i := range inst {
				if i.Healthy {
					healthy++
				}
			}
			s.mu.Lock()
			s.low = min(s.low, healthy)
			s.samples++
			s.mu.Unlock()
		}
	}()
	return s
}

// finish stops sampling and returns the lowest count and how many
// samples were taken.
func (s *healthySampler) finish() (low, samples int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.low, s.samples
}

func (c *cluster) healthyInstances(service string) int {
	n := 0
	for _, i := range c.service(service, false) {
		if i.Healthy {
			n++
		}
	}
	return n
}

// docs/deployments.md end to end, with real agents and real HTTP checks:
// version 0 (count 3) becomes healthy and stable; a broken version 1
// (its check never passes) rolls out one at a time with auto_revert: at
// no moment are fewer than 2 instances healthy in the catalogue, the
// deployment fails, `job submit` exits non-zero, and the job is reverted
// to a copy of version 0 that leaves 3 healthy instances. Then a canary
// version runs beside the 3 old instances until promoted, and rolls out.
func TestRollingUpdateAutoRevertAndCanary(t *testing.T) {
	requireTool(t, "busybox", "/bin/busybox")
	c := startCentral(t, clusterOpts{})
	for _, n := range []string{"d1", "d2"} {
		c.startAgent(n)
	}
	for _, n := range []string{"d1", "d2"} {
		c.waitNode(n, "ready", 30*time.Second)
	}
	group := func(v, canary int) string {
		return fmt.Sprintf(`    count = 3
    meta {
      v = "%d"
    }
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "1s"
      healthy_deadline  = "5s"
      progress_deadline = "2m"
      auto_revert       = true
      canary            = %d
    }`, v, canary)
	}
	const svc = "roll-web"
	submit := func(name string, healthyFrom, v, canary int, args ...string) (string, int) {
		path := lifeJob(t, name, httpdJob("roll", healthyFrom, group(v, canary), ""))
		return c.cli(append(append([]string{"job", "submit"}, args...), path)...)
	}

	// Version 0: rolled out and stable.
	if out, code := submit("v0", 1, 0, 0); code != 0 {
		t.Fatalf("submit version 0 exited %d:\n%s", code, out)
	}
	eventually(t, 60*time.Second, func() error {
		d, err := c.jobDeployment("roll", 0)
		if err != nil {
			return err
		}
		if d.Status != "successful" || c.healthyInstances(svc) != 3 {
			return fmt.Errorf("version 0: deployment %s, %d healthy instances", d.Status, c.healthyInstances(svc))
		}
		return nil
	})

	// Version 1 is broken.
	sampler := c.sampleHealthy(svc)
	out, code := submit("v1", 0, 1, 0)
	if code == 0 {
		t.Fatalf("submit of the broken version 1 exited 0:\n%s", out)
	}
	eventually(t, 90*time.Second, func() error {
		d, err := c.jobDeployment("roll", 1)
		if err != nil {
			return err
		}
		if d.Status != "failed" || !strings.Contains(d.StatusDescription, "rolling back to job version 0") {
			return fmt.Errorf("version 1 deployment: %s %q", d.Status, d.StatusDescription)
		}
		return nil
	})
	eventually(t, 90*time.Second, func() error {
		d, err := c.jobDeployment("roll", 2)
		if err != nil {
			return err
		}
		as := c.allocs("roll")
		live := 0
		for _, a := range as {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" {
				if a.JobVersion != 2 {
					return fmt.Errorf("alloc %s still runs version %d", a.ID, a.JobVersion)
				}
				live++
			}
		}
		if d.Status != "successful" || live != 3 || c.healthyInstances(svc) != 3 {
			return fmt.Errorf("revert (version 2): deployment %s, %d running, %d healthy instances", d.Status, live, c.healthyInstances(svc))
		}
		return nil
	})
	low, samples := sampler.finish()
	t.Logf("broken rollout and revert: at least %d healthy instances in %d samples", low, samples)
	if samples < 10 {
		t.Fatalf("only %d samples of the catalogue were taken", samples)
	}
	if low < 2 {
		t.Fatalf("during the broken rollout and its revert, only %d instances were healthy at one point; max_parallel 1 keeps at least 2", low)
	}
	var job struct {
		Version uint64 `json:"version"`
		Meta    map[string]string
	}
	if err := c.get("/v1/job/roll", &job); err != nil || job.Version != 2 {
		t.Fatalf("job after the revert: version %d (%v), want 2", job.Version, err)
	}

	// Version 3: one canary beside the three old instances.
	if out, code := submit("v3", 1, 3, 1, "-detach"); code != 0 {
		t.Fatalf("submit version 3 exited %d:\n%s", code, out)
	}
	var canary *deployment
	eventually(t, 60*time.Second, func() error {
		d, err := c.jobDeployment("roll", 3)
		if err != nil {
			return err
		}
		if g := d.TaskGroups["g"]; g.DesiredCanaries != 1 || g.HealthyAllocs != 1 {
			return fmt.Errorf("canary deployment: %+v", d)
		}
		canary = d
		return nil
	})
	old, running := 0, 0
	for _, a := range c.allocs("roll") {
		if a.DesiredStatus == "run" && a.ClientStatus == "running" {
			running++
			if a.JobVersion == 2 {
				old++
			}
		}
	}
	if old != 3 || running != 4 {
		t.Fatalf("while the canary waits: %d old of %d running allocations, want 3 of 4", old, running)
	}
	if out, code := c.cli("deployment", "promote", "-detach", canary.ID); code != 0 {
		t.Fatalf("deployment promote exited %d:\n%s", code, out)
	}
	eventually(t, 90*time.Second, func() error {
		d, err := c.jobDeployment("roll", 3)
		if err != nil {
			return err
		}
		newer := 0
		for _, a := range c.allocs("roll") {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" && a.JobVersion == 3 {
				newer++
			}
		}
		if d.Status != "successful" || newer != 3 || c.healthyInstances(svc) != 3 {
			return fmt.Errorf("after promotion: deployment %s, %d of version 3 running, %d healthy", d.Status, newer, c.healthyInstances(svc))
		}
		return nil
	})
}

// docs/deployments.md (System jobs): a system job on 3 agents rolls out
// one node at a time: the catalogue never has fewer than 2 healthy
// instances while version 1 replaces version 0.
func TestSystemJobRollsOneNodeAtATime(t *testing.T) {
	requireTool(t, "busybox", "/bin/busybox")
	c := startCentral(t, clusterOpts{})
	nodes := []string{"s1", "s2", "s3"}
	for _, n := range nodes {
		c.startAgent(n)
	}
	for _, n := range nodes {
		c.waitNode(n, "ready", 30*time.Second)
	}
	group := func(v int) string {
		return fmt.Sprintf(`    meta {
      v = "%d"
    }
    update {
      max_parallel     = 1
      min_healthy_time = "1s"
      healthy_deadline = "20s"
    }`, v)
	}
	submit := func(v int) {
		src := strings.Replace(httpdJob("sysroll", 1, group(v), ""), `datacenters = ["dc1"]`, `datacenters = ["dc1"]
  type        = "system"`, 1)
		if out, code := c.cli("job", "submit", lifeJob(t, fmt.Sprintf("sys%d", v), src)); code != 0 {
			t.Fatalf("submit version %d exited %d:\n%s", v, code, out)
		}
	}
	submit(0)
	eventually(t, 60*time.Second, func() error {
		if n := c.healthyInstances("sysroll-web"); n != 3 {
			return fmt.Errorf("%d healthy instances of version 0", n)
		}
		return nil
	})
	sampler := c.sampleHealthy("sysroll-web")
	submit(1) // follows the deployment: exits 0 once it succeeded
	d, err := c.jobDeployment("sysroll", 1)
	if err != nil || d.Status != "successful" {
		t.Fatalf("version 1 deployment after submit returned: %+v %v", d, err)
	}
	eventually(t, 30*time.Second, func() error {
		newer := 0
		for _, a := range c.allocs("sysroll") {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" && a.JobVersion == 1 {
				newer++
			}
		}
		if newer != 3 || c.healthyInstances("sysroll-web") != 3 {
			return fmt.Errorf("%d nodes run version 1, %d healthy", newer, c.healthyInstances("sysroll-web"))
		}
		return nil
	})
	low, samples := sampler.finish()
	t.Logf("system rollout: at least %d healthy instances in %d samples", low, samples)
	if samples < 10 || low < 2 {
		t.Fatalf("lowest healthy count %d over %d samples: more than one node was updated at a time", low, samples)
	}
}
