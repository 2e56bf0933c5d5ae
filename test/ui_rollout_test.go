package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An agent rollout as the web UI shows it, in Chromium: one enrolled
// agent on 0.9.0 is upgraded to 1.0.0 (the binaries TestOTARolloutAMD64
// builds); the rollouts page lists the rollout with its version, status
// complete, its waves and the node upgraded; the rollout's page lists the
// node healthy; the fleet overview counts the node on 1.0.0.
func TestWebUIAgentRollout(t *testing.T) {
	bin := requireTool(t, "chromium", "chromium-browser")
	const vA, vB = "0.9.0", "1.0.0"
	tg := otaTarget{goarch: "amd64"}
	binA, binB := buildAgentVersion(t, tg, vA), buildAgentVersion(t, tg, vB)
	c, token := startAuthCentral(t)
	tokFile := filepath.Join(c.dir, "join-token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	// The agent runs its own copy (an upgrade swaps the binary beside it)
	// and writes to a file: a watchdog it starts outlives the test's pipe.
	const name = "ui-ota"
	dataDir := filepath.Join(c.dir, "data")
	exe := filepath.Join(c.dir, "bin", "agent")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	if b, err := os.ReadFile(binA); err != nil || os.WriteFile(exe, b, 0o755) != nil {
		t.Fatalf("copy the agent: %v", err)
	}
	logFile := filepath.Join(c.dir, name+".log")
	cmd := exec.Command("/bin/sh", "-c", `exec "$@" >>"$AGENT_LOG" 2>&1`, "sh", exe, "-name", name, "-datacenter", "dc1",
		"-broker", c.broker, "-central", "http://"+c.http, "-join-token-file", tokFile, "-data-dir", dataDir,
		"-heartbeat", "1s", "-advertise", "127.0.0.1")
	cmd.Env = append(os.Environ(), "AGENT_LOG="+logFile)
	p := startCmd(t, "agent "+name, cmd)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("---- log of agent %s ----\n%s", name, b)
		}
	})
	t.Cleanup(func() {
		killChildGroups(p.cmd.Process.Pid)
		killByArg(dataDir) // a watchdog, or an agent it started
	})
	n := c.waitNode(name, "ready", 120*time.Second)
	eventually(t, 60*time.Second, func() error {
		var full otaNode
		if err := c.get("/v1/node/"+n.ID, &full); err != nil {
			return err
		}
		if full.Version != vA {
			return fmt.Errorf("node version %q, want %s", full.Version, vA)
		}
		return nil
	})
	if out, code := c.cli("agent", "release", "add", "-version", vB, binB); code != 0 {
		t.Fatalf("release add %s exited %d:\n%s", vB, code, out)
	}
	if out, code := c.cli("agent", "rollout", "start", "-version", vB, "-canary", "1", "-max-parallel", "1", "-health-window", "60s"); code != 0 {
		t.Fatalf("rollout start %s exited %d:\n%s", vB, code, out)
	}
	var ro otaRollout
	eventually(t, 120*time.Second, func() error {
		if err := c.get("/v1/agent/rollout/latest", &ro); err != nil {
			return err
		}
		if ro.Status != "complete" {
			return fmt.Errorf("rollout %s: %s (%s), want complete", ro.ID, ro.Status, ro.Desc)
		}
		return nil
	})

	b := startChromiumCDP(t, bin)
	b.call("Page.enable", nil)
	base := "http://" + c.http + "/ui"
	b.navigate(base + "/rollouts")
	row := b.waitEval(`(function () {
		var r = document.querySelector('tr.rollout[data-rollout="`+ro.ID+`"]');
		return r ? [...r.cells].map(c => c.textContent.trim()).join("|") : "";
	})()`, 30*time.Second, func(v string) error {
		if v == "" {
			return fmt.Errorf("rollouts page lacks rollout %s", ro.ID)
		}
		return nil
	})
	cells := strings.Split(row, "|")
	// ID, version, status, waves, nodes, bar, healthy, upgrading, pending, failed, skipped, started
	if len(cells) < 11 || cells[1] != vB || cells[2] != "complete" || cells[3] != "canaries 1/1, then 0/0, 1 at a time" || cells[4] != "1" || cells[6] != "1" || cells[9] != "0" {
		t.Errorf("rollout row %q, want version %s, complete, canaries 1/1, 1 node, 1 upgraded, 0 failed", cells, vB)
	}
	b.navigate(base + "/rollouts/" + ro.ID[:8])
	b.waitPage("/ui/rollouts/"+ro.ID[:8], 30*time.Second, func(text string) error {
		for _, want := range []string{"Agent rollout " + ro.ID[:8], "to version " + vB, "1 healthy", name, "canary", "healthy"} {
			if !strings.Contains(text, want) {
				return fmt.Errorf("rollout page lacks %q: %q", want, text)
			}
		}
		return nil
	})
	b.navigate(base + "/fleet")
	b.waitEval(`(function () { var v = document.querySelector('.agent-version[data-version="`+vB+`"]'); return v ? v.textContent : ""; })()`,
		30*time.Second, func(v string) error {
			if v != vB+" × 1" {
				return fmt.Errorf("fleet overview's agent versions show %q, want %s × 1", v, vB)
			}
			return nil
		})
}
