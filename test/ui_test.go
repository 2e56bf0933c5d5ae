package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium runs headless Chromium from Debian against url with extra
// flags (--dump-dom, --screenshot=...) and a fresh profile, and returns
// its stdout.
func chromium(t *testing.T, bin, url string, extra ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("chromium %s: %v\n%s", url, err, errOut.String())
	}
	return out.String(), nil
}

// The web UI in a real browser: the client list shows the agent, and a
// submitted job's allocation page shows its task's Started event.
func TestWebUIInChromium(t *testing.T) {
	bin := requireTool(t, "chromium", "chromium-browser")
	c := startCentral(t, clusterOpts{})
	c.startAgent("ui-agent")
	n := c.waitNode("ui-agent", "ready", 20*time.Second)

	work := t.TempDir()
	if out, code := c.cli("job", "submit", chattyJob(t, work)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var running alloc
	eventually(t, 20*time.Second, func() error {
		as := c.allocs("chatty")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		running = as[0]
		return nil
	})
	base := "http://" + c.http + "/ui"
	eventually(t, 10*time.Second, func() error { // the leader has heard a heartbeat
		text, err := getText("http://" + c.http + "/v1/metrics")
		if err != nil || !strings.Contains(text, `tether_agent_last_heartbeat_seconds{node="`+n.ID+`"}`) {
			return fmt.Errorf("no heartbeat from %s yet (%v)", n.ID, err)
		}
		return nil
	})
	shots := t.TempDir()

	dom, err := chromium(t, bin, base+"/clients", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Datacenter dc1", "ui-agent", n.ID[:8], `class="ok">ready`, "exec"} {
		if !strings.Contains(dom, want) {
			t.Errorf("client list lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "<td>never</td>") {
		t.Errorf("client list shows no heartbeat for a live agent:\n%s", dom)
	}

	dom, err = chromium(t, bin, base+"/allocations/"+running.ID, "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	timeline := dom[max(0, strings.Index(dom, `class="timeline"`)):]
	for _, want := range []string{`<strong class="type">Started</strong>`, "talk", running.ID} {
		if !strings.Contains(dom, want) && !strings.Contains(timeline, want) {
			t.Errorf("allocation page lacks %q:\n%s", want, dom)
		}
	}

	// The page's script ran (the token page's status line is filled in by
	// app.js, under the UI's content security policy).
	dom, err = chromium(t, bin, base+"/settings/tokens", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, "No token set.") {
		t.Errorf("token page script did not run:\n%s", dom)
	}

	for _, page := range []string{"clients", "jobs/chatty", "allocations/" + running.ID} {
		path := filepath.Join(shots, strings.ReplaceAll(page, "/", "_")+".png")
		if _, err := chromium(t, bin, base+"/"+page, "--screenshot="+path, "--window-size=1280,900"); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot of %s missing or empty: %v", page, err)
		}
	}
	t.Logf("screenshots in %s", shots)

	checkUIPagesInChromium(t, c, bin, running, n) // ui_pages_test.go
}
