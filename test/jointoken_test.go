package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A join token given through -join-token-file or TETHER_JOIN_TOKEN enrols
// the agent without showing up in its command line (which every user of
// the machine can read in ps), and a task cannot read the token from the
// agent's environment through ${env.TETHER_JOIN_TOKEN}.
func TestJoinTokenNotInArgvNorTasks(t *testing.T) {
	c, token := startAuthCentral(t)
	tokFile := filepath.Join(c.dir, "join-token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	byFile := c.startAgent("by-file", "-join-token-file", tokFile, "-central", "http://"+c.http)
	c.agentEnv = append(c.agentEnv, "TETHER_JOIN_TOKEN="+token)
	byEnv := c.startAgent("by-env", "-central", "http://"+c.http)
	c.waitNode("by-file", "ready", 20*time.Second)
	c.waitNode("by-env", "ready", 20*time.Second)
	for _, p := range []*proc{byFile, byEnv} {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cmdline), token) {
			t.Errorf("the join token is in the agent's command line: %q", cmdline)
		}
	}

	work := t.TempDir()
	job := filepath.Join(work, "peek.hcl")
	os.WriteFile(job, []byte(fmt.Sprintf(`job "peek" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${node.unique.name}"
    value     = "by-env"
  }
  group "g" {
    update {
      max_parallel = 0
    }
    task "t" {
      driver = "exec"
      env {
        PEEK = "${env.TETHER_JOIN_TOKEN}"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "printf '%%s|%%s' \"$PEEK\" \"$TETHER_JOIN_TOKEN\" > %s/peek.tmp && mv %s/peek.tmp %s/peek; exec sleep 3600"]
      }
    }
  }
}
`, work, work, work)), 0o644)
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var seen string
	eventually(t, 30*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(work, "peek"))
		seen = string(b)
		return err
	})
	if strings.Contains(seen, token) {
		t.Fatalf("a task read the join token from the agent's environment: %q", seen)
	}
}
