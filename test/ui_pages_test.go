package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uiJobFile writes a one-task exec job of type typ running script, asking
// for memory MB.
func uiJobFile(t *testing.T, dir, id, typ, script string, memory int) string {
	t.Helper()
	src := fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  type        = %q
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 20
        memory = %d
      }
    }
  }
}
`, id, typ, script, memory)
	path := filepath.Join(dir, id+".hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// apiJobStatuses is each job's status as GET /v1/jobs reports it.
func apiJobStatuses(c *cluster) (map[string]string, error) {
	text, err := getText("http://" + c.http + "/v1/jobs")
	if err != nil {
		return nil, err
	}
	var jobs []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(text), &jobs); err != nil {
		return nil, fmt.Errorf("GET /v1/jobs: %v: %s", err, text)
	}
	out := map[string]string{}
	for _, j := range jobs {
		out[j.ID] = j.Status
	}
	return out, nil
}

// checkUIPagesInChromium is TestWebUIInChromium's second half, on its
// cluster (the running job chatty, allocation running, on node n):
//   - the jobs list shows each job's status as the API does, for a running,
//     a dead (finished batch) and a pending (unplaceable) job;
//   - the unplaceable job's page names its placement failure;
//   - the client page shows the node and its allocation;
//   - the log viewer, following, shows lines the task writes after the
//     page opened its stream.
func checkUIPagesInChromium(t *testing.T, c *cluster, bin string, running alloc, n node) {
	start := time.Now()
	defer func() { t.Logf("UI pages checked in %s", time.Since(start).Round(100*time.Millisecond)) }()
	work := t.TempDir()
	if out, code := c.cli("job", "submit", "-detach", uiJobFile(t, work, "once", "batch", "echo done", 16)); code != 0 {
		t.Fatalf("submit once exited %d:\n%s", code, out)
	}
	if out, code := c.cli("job", "submit", "-detach", uiJobFile(t, work, "huge", "service", "sleep 1000", 1<<22)); code != 0 {
		t.Fatalf("submit huge exited %d:\n%s", code, out)
	}
	var statuses map[string]string
	eventually(t, 30*time.Second, func() error {
		var err error
		if statuses, err = apiJobStatuses(c); err != nil {
			return err
		}
		if statuses["chatty"] != "running" || statuses["once"] != "dead" || statuses["huge"] != "pending" {
			return fmt.Errorf("API job statuses %v, want chatty running, once dead, huge pending", statuses)
		}
		return nil
	})
	base := "http://" + c.http + "/ui"
	dom, err := chromium(t, bin, base+"/jobs", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	for id, status := range statuses {
		row := regexp.MustCompile(`href="/ui/jobs/` + id + `\?namespace=default">[^\n]*\n[^\n]*<td class="status[^"]*">([a-z]+)</td>`).FindStringSubmatch(dom)
		if row == nil || row[1] != status {
			t.Errorf("jobs list shows %s as %v, the API as %q:\n%s", id, row, status, dom)
		}
	}
	dom, err = chromium(t, bin, base+"/jobs/huge", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Placement failures", "Task group g: failed to place 1 allocation", "exhausted on 1 nodes", `"id": "huge"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("job page of huge lacks %q:\n%s", want, dom)
		}
	}

	dom, err = chromium(t, bin, base+"/clients/"+n.ID, "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Client ui-agent", n.ID, `href="/ui/allocations/` + running.ID + `"`, `class="drivers">`, "MHz CPU"} {
		if !strings.Contains(dom, want) {
			t.Errorf("client page lacks %q:\n%s", want, dom)
		}
	}

	// The log viewer: once the stream is open, lines the task writes from
	// then on (it ticks every 0.2 s) appear without a reload.
	b := startChromiumCDP(t, bin)
	b.call("Page.enable", nil)
	b.navigate(base + "/allocations/" + running.ID + "/logs")
	ticks := regexp.MustCompile(`tick (\d+)`)
	lastTick := func(text string) int {
		last := -1
		for _, m := range ticks.FindAllStringSubmatch(text, -1) {
			last, _ = strconv.Atoi(m[1])
		}
		return last
	}
	text := b.waitPage("/ui/allocations/"+running.ID+"/logs", 15*time.Second, func(text string) error {
		if !strings.Contains(text, "Following:") || lastTick(text) < 0 {
			return fmt.Errorf("log not streaming yet: %q", text)
		}
		return nil
	})
	first := lastTick(text)
	b.waitPage("/ui/allocations/"+running.ID+"/logs", 15*time.Second, func(text string) error {
		if got := lastTick(text); got < first+3 {
			return fmt.Errorf("log viewer's last line is tick %d, want tick %d or later (it had %d when the stream opened)", got, first+3, first)
		}
		return nil
	})
}
