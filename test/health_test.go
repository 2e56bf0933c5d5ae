package test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// healthAlloc is an allocation as GET /v1/allocation/<id> shows it, with
// what these tests look at.
type healthAlloc struct {
	ClientStatus     string `json:"client_status"`
	DeploymentID     string `json:"deployment_id"`
	DeploymentStatus *struct {
		Healthy *bool  `json:"healthy"`
		Reason  string `json:"reason"`
	} `json:"deployment_status"`
	TaskStates map[string]struct {
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
		Events   []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"events"`
	} `json:"task_states"`
}

func (c *cluster) healthAlloc(job string) (string, healthAlloc, error) {
	var a healthAlloc
	as := c.allocs(job)
	if len(as) != 1 {
		return "", a, fmt.Errorf("job %s has %d allocations, want 1", job, len(as))
	}
	return as[0].ID, a, c.get("/v1/allocation/"+as[0].ID, &a)
}

// httpdJob is a service whose exec task serves local/www with busybox
// httpd behind an HTTP check of /health.txt. The task's command counts its
// runs in the alloc dir and writes health.txt only from run healthyFrom
// on (0: never), so its check fails until then.
func httpdJob(name string, healthyFrom int, extra, checkExtra string) string {
	return fmt.Sprintf(`job %[1]q {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 3
      delay    = "200ms"
      interval = "10m"
      mode     = "fail"
    }
    network {
      port "http" {}
    }
%[3]s
    task "web" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args = ["-c", "n=$(cat ${NOMAD_ALLOC_DIR}/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${NOMAD_ALLOC_DIR}/runs; mkdir -p local/www; if [ %[2]d -gt 0 ] && [ $n -ge %[2]d ]; then echo ok > local/www/health.txt; fi; exec busybox httpd -f -p 127.0.0.1:${NOMAD_PORT_http} -h local/www"]
      }
      service {
        name     = "%[1]s-web"
        port     = "http"
        provider = "nomad"
        check {
          type     = "http"
          path     = "/health.txt"
          interval = "200ms"
          timeout  = "1s"
%[4]s
        }
      }
    }
  }
}
`, name, healthyFrom, extra, checkExtra)
}

// check_restart with a real agent and a real HTTP check: the first run of
// the task fails its check, which restarts it through the group's restart
// policy after limit failures; the second run passes and is registered
// healthy.
func TestCheckRestartRestartsTaskWithFailingCheck(t *testing.T) {
	requireTool(t, "busybox", "/bin/busybox")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge")
	c.waitNode("edge", "ready", 20*time.Second)
	// max_parallel = 0: this test is about check_restart, not rollouts (a
	// deployment would wait min_healthy_time after the restart).
	job := lifeJob(t, "cr", httpdJob("cr", 2, "    update {\n      max_parallel = 0\n    }", `          check_restart {
            limit = 3
            grace = "2s"
          }`))
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 60*time.Second, func() error {
		inst := c.service("cr-web", false)
		if len(inst) != 1 || !inst[0].Healthy {
			return fmt.Errorf("cr-web instances: %+v", inst)
		}
		return nil
	})
	_, a, err := c.healthAlloc("cr")
	if err != nil {
		t.Fatal(err)
	}
	ts := a.TaskStates["web"]
	// One restart is what it takes; a loaded machine where the second
	// run's httpd is slower than the grace may need another.
	if a.ClientStatus != "running" || ts.State != "running" || ts.Restarts < 1 {
		t.Fatalf("alloc %s, task %s with %d restarts; want running after a restart", a.ClientStatus, ts.State, ts.Restarts)
	}
	var signaled string
	for _, e := range ts.Events {
		if e.Type == "Restart Signaled" {
			signaled = e.Message
		}
	}
	if !strings.Contains(signaled, "check_restart") || !strings.Contains(signaled, "failed 3 times in a row") {
		t.Fatalf("no Restart Signaled event naming check_restart: %+v", ts.Events)
	}
}

// An allocation placed by a deployment has its health decided by its
// agent and reported to central: healthy once its check passed for
// min_healthy_time; unhealthy when its check never passes by
// healthy_deadline.
func TestDeploymentHealthReportedByAgent(t *testing.T) {
	requireTool(t, "busybox", "/bin/busybox")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge")
	c.waitNode("edge", "ready", 20*time.Second)
	update := func(deadline string) string {
		return fmt.Sprintf(`    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "1s"
      healthy_deadline = %q
      progress_deadline = "10m"
    }`, deadline)
	}
	for _, tc := range []struct {
		job         string
		healthyFrom int
		deadline    string
		healthy     bool
		reason      string
	}{
		{"good", 1, "1m", true, ""},
		{"bad", 0, "3s", false, "service checks not passing by healthy_deadline of 3s"},
	} {
		if out, code := c.cli("job", "submit", "-detach", lifeJob(t, tc.job, httpdJob(tc.job, tc.healthyFrom, update(tc.deadline), ""))); code != 0 {
			t.Fatalf("submit %s exited %d:\n%s", tc.job, code, out)
		}
		eventually(t, 60*time.Second, func() error {
			id, a, err := c.healthAlloc(tc.job)
			if err != nil {
				return err
			}
			if a.DeploymentID == "" {
				return fmt.Errorf("alloc %s of %s belongs to no deployment", id, tc.job)
			}
			ds := a.DeploymentStatus
			if ds == nil || ds.Healthy == nil {
				return fmt.Errorf("alloc %s of %s: no health reported yet (%s)", id, tc.job, a.ClientStatus)
			}
			if *ds.Healthy != tc.healthy || !strings.Contains(ds.Reason, tc.reason) {
				t.Fatalf("job %s: health %v (%q), want %v (%q)", tc.job, *ds.Healthy, ds.Reason, tc.healthy, tc.reason)
			}
			return nil
		})
	}
}
