package server

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// rollingHCL is rollingTestJob as a job file.
func rollingHCL(t *testing.T, cmd string) string {
	t.Helper()
	src := fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  update {
    max_parallel      = 1
    health_check      = "task_states"
    min_healthy_time  = "0s"
    healthy_deadline  = "1s"
    progress_deadline = "1m"
    auto_revert       = true
  }
  group "g" {
    count = 2
    task "t" {
      driver = "exec"
      config {
        command = %q
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, cmd)
	p := filepath.Join(t.TempDir(), "web.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runUntilExit runs the CLI against s and, until it exits, lets the wire
// agent report every allocation running with health (nil: no report).
func runUntilExit(t *testing.T, s *Server, a *wireAgent, seq *uint64, healthy *bool, args ...string) (int, string, string) {
	t.Helper()
	out, errOut, done := runCLI(s, args...)
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			return code, out.String(), errOut.String()
		case <-tick.C:
			a.reportAll(seq, healthy)
		case <-deadline:
			t.Fatalf("central %v did not exit:\n%s\n%s", args, out, errOut)
		}
	}
}

// docs/cli.md "Jobs with an update block": job run follows the job's
// deployment through central's own endpoints; exit 0 once it succeeded,
// exit 1 when it failed, saying that auto_revert put version 0 back.
func TestJobRunFollowsDeployment(t *testing.T) {
	s := deployServer(t, 300*time.Millisecond)
	a := newWireAgent(t, s, "n1")
	a.hello()
	waitReady(t, s, "n1")
	var seq uint64
	ok := true

	code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "job", "run", rollingHCL(t, "/bin/v0"))
	if code != 0 || !strings.Contains(out, "Monitoring deployment") || !strings.Contains(out, `version 0 of job "web" is stable`) {
		t.Fatalf("version 0: exit %d, want 0 after its deployment succeeded\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, `group "g": 2/2 placed, 2 healthy, 0 unhealthy`) {
		t.Errorf("version 0: no progress line with 2 healthy\n%s", out)
	}
	// Before the deployment, the evaluation's placed allocations, as
	// Nomad's monitor shows them.
	if n := strings.Count(out, `created: node`); n != 2 {
		t.Errorf("version 0: %d \"Allocation ... created\" lines, want 2\n%s", n, out)
	}

	// The web UI's job page shows the deployment's progress per group.
	code, page := getStatus(t, s, "/ui/jobs/web")
	row := regexp.MustCompile(`<tr class="deploy-group">\s*<td>g</td><td>2</td><td>2</td>\s*<td class="ok">2</td><td class="">0</td>`)
	if code != 200 || !strings.Contains(page, "Latest deployment") || !strings.Contains(page, `class="ok">successful`) || !row.MatchString(page) {
		t.Errorf("job page: HTTP %d, want the successful deployment with group g 2 desired, 2 placed, 2 healthy, 0 unhealthy\n%s", code, page)
	}

	// Version 1's allocations run but never report health: central fails
	// the deployment at healthy_deadline and reverts to version 0.
	code, out, errOut = runUntilExit(t, s, a, &seq, nil, "job", "run", rollingHCL(t, "/bin/broken"))
	t.Logf("version 1's job run:\n%s%s", out, errOut)
	if code != 1 {
		t.Fatalf("version 1: exit %d, want 1 for a failed deployment\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "failed: ") || !strings.Contains(errOut, "The job was reverted: version 2 is a copy of version 0.") {
		t.Errorf("version 1: output does not say it failed and was reverted\n%s%s", out, errOut)
	}
	var failed *structs.Deployment
	for _, d := range s.store.DeploymentsByJob("default", "web") {
		if d.JobVersion == 1 {
			failed = d
		}
	}
	if failed == nil || failed.Status != structs.DeploymentFailed {
		t.Fatalf("version 1's deployment: %+v", failed)
	}

	// deployment list and status show it, by a prefix of its ID.
	out2, _, done := runCLI(s, "deployment", "list")
	if code = <-done; code != 0 || !strings.Contains(out2.String(), failed.ID[:8]+"  web     1            failed") {
		t.Errorf("deployment list: exit %d, lacks the failed deployment:\n%s", code, out2)
	}
	out2, errOut2, done := runCLI(s, "deployment", "status", failed.ID[:6])
	if code := <-done; code != 0 {
		t.Fatalf("deployment status: exit %d %s", code, errOut2)
	}
	for _, want := range []string{"Status      = failed", "Description = " + failed.StatusDescription, "Task Group  Auto Revert  Desired  Placed  Healthy  Unhealthy  Progress Deadline", "g           true"} {
		if !strings.Contains(out2.String(), want) {
			t.Errorf("deployment status lacks %q:\n%s", want, out2)
		}
	}
}

// canaryHCL is a job file with one canary per update, promoted by hand.
func canaryHCL(t *testing.T, cmd string) string {
	t.Helper()
	p := rollingHCL(t, cmd)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "auto_revert       = true", "auto_revert       = true\n    canary            = 1", 1)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// docs/cli.md "Deployments": job run returns once the canary is healthy
// and waits for a promotion; deployment pause, resume and promote act on
// it by ID prefix, promote following it to success; deployment fail
// ends the next one and names the version auto_revert registered.
func TestDeploymentVerbsCanary(t *testing.T) {
	s := deployServer(t, 300*time.Millisecond)
	a := newWireAgent(t, s, "n1")
	a.hello()
	waitReady(t, s, "n1")
	var seq uint64
	ok := true

	if code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "job", "run", canaryHCL(t, "/bin/v0")); code != 0 {
		t.Fatalf("version 0: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "job", "run", canaryHCL(t, "/bin/v1"))
	if code != 0 || !strings.Contains(out, "wait to be promoted: central deployment promote") {
		t.Fatalf("version 1: exit %d, want 0 once its canary is healthy and waits for promotion\n%s%s", code, out, errOut)
	}
	d := s.store.LatestDeploymentByJob("default", "web")
	if d.JobVersion != 1 || d.Status != structs.DeploymentRunning {
		t.Fatalf("version 1's deployment: %+v", d)
	}
	prefix := d.ID[:6]
	status := func() string { return s.store.DeploymentByID(d.ID).Status }

	if code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "deployment", "pause", prefix); code != 0 || !strings.Contains(out, "paused") || status() != structs.DeploymentPaused {
		t.Fatalf("pause: exit %d, status %s\n%s%s", code, status(), out, errOut)
	}
	if code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "job", "status", "web"); code != 0 || !strings.Contains(out, "Latest Deployment\nID          = "+d.ID[:8]+"\nJob Version = 1\nStatus      = paused") {
		t.Errorf("job status: exit %d, want the paused deployment as its latest\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "deployment", "resume", "-detach", prefix); code != 0 || !strings.Contains(out, "resumed") || status() != structs.DeploymentRunning {
		t.Fatalf("resume: exit %d, status %s\n%s%s", code, status(), out, errOut)
	}
	code, out, errOut = runUntilExit(t, s, a, &seq, &ok, "deployment", "promote", prefix)
	if code != 0 || !strings.Contains(out, "promoted") || !strings.Contains(out, `version 1 of job "web" is stable`) || status() != structs.DeploymentSuccessful {
		t.Fatalf("promote: exit %d, status %s, want 0 after following it to success\n%s%s", code, status(), out, errOut)
	}

	// Version 2's canary: failed by hand, auto_revert registers version 1
	// again.
	if code, out, errOut := runUntilExit(t, s, a, &seq, &ok, "job", "run", canaryHCL(t, "/bin/v2")); code != 0 {
		t.Fatalf("version 2: exit %d\n%s%s", code, out, errOut)
	}
	d = s.store.LatestDeploymentByJob("default", "web")
	code, out, errOut = runUntilExit(t, s, a, &seq, &ok, "deployment", "fail", d.ID[:8])
	if code != 0 || !strings.Contains(out, "marked failed") || !strings.Contains(out, `Job "web" reverted to its stable version 1`) {
		t.Errorf("fail: exit %d\n%s%s", code, out, errOut)
	}
	if j := s.store.JobByID("default", "web"); j.Version != 3 || j.TaskGroups[0].Tasks[0].Config["command"] != "/bin/v1" {
		t.Errorf("after fail: version %d command %v, want version 3 running /bin/v1", j.Version, j.TaskGroups[0].Tasks[0].Config["command"])
	}
	if code, _, errOut := runUntilExit(t, s, a, &seq, &ok, "deployment", "promote", "-detach", "ffffff"); code != 1 || !strings.Contains(errOut, `"ffffff"`) {
		t.Errorf("promote of an unknown deployment: exit %d %q", code, errOut)
	}
}
