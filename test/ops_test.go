package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chattyJob is a service job whose exec task says hello on stdout and
// stderr, then keeps recording its pid and printing ticks.
func chattyJob(t *testing.T, dir string) string {
	t.Helper()
	src := fmt.Sprintf(`job "chatty" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    count = 1
    task "talk" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from $NOMAD_ALLOC_ID; echo complaint >&2; echo $$ > %[1]s/pid; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, dir)
	path := filepath.Join(dir, "chatty.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// One job on two agents: its task's real stdout comes back through `alloc
// logs`, /v1/metrics counts the nodes and allocations, and draining the
// node it runs on moves it to the other node, where it really runs.
func TestDrainLogsAndMetrics(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("a")
	c.startAgent("b")
	c.waitNode("a", "ready", 20*time.Second)
	c.waitNode("b", "ready", 20*time.Second)

	work := t.TempDir()
	if out, code := c.cli("job", "submit", chattyJob(t, work)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	pid := readPid(t, filepath.Join(work, "pid"))
	var first alloc
	eventually(t, 10*time.Second, func() error {
		as := c.allocs("chatty")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		first = as[0]
		return nil
	})

	// Logs: the task's own stdout, its stderr, and the tail.
	out, code := c.cli("alloc", "logs", first.ID[:8])
	if code != 0 || !strings.HasPrefix(out, "hello from "+first.ID+"\n") {
		t.Fatalf("alloc logs exited %d, want the task's stdout starting with its hello:\n%s", code, out)
	}
	if out, code := c.cli("alloc", "logs", "-stderr", first.ID, "talk"); code != 0 || out != "complaint\n" {
		t.Errorf("alloc logs -stderr exited %d: %q", code, out)
	}
	eventually(t, 10*time.Second, func() error {
		out, code := c.cli("alloc", "logs", "-tail", "-n", "2", first.ID)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "tick ") || !strings.HasPrefix(lines[1], "tick ") {
			return fmt.Errorf("alloc logs -tail -n 2 exited %d: %q", code, out)
		}
		return nil
	})

	// Follow: new lines keep coming until the reader interrupts.
	follow := exec.Command(bins.central, "alloc", "logs", "-f", "-tail", "-n", "1", first.ID)
	follow.Env = append(os.Environ(), "CENTRAL_ADDR=http://"+c.http)
	var followed syncBuffer
	follow.Stdout, follow.Stderr = &followed, &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if n := strings.Count(followed.String(), "tick "); n < 4 {
			return fmt.Errorf("followed %d ticks so far: %q", n, followed.String())
		}
		return nil
	})
	follow.Process.Signal(os.Interrupt)
	if err := follow.Wait(); err != nil {
		t.Errorf("alloc logs -f after interrupt: %v\n%s", err, followed.String())
	}

	// Metrics: nodes and allocations by status, and the agents' counters.
	eventually(t, 10*time.Second, func() error {
		text, err := getText("http://" + c.http + "/v1/metrics")
		if err != nil {
			return err
		}
		for _, want := range []string{
			`tether_nodes{status="ready"} 2`,
			`tether_allocs{client_status="running"} 1`,
			`tether_agent_tasks{node="` + first.NodeID + `"} 1`,
			"tether_raft_leader 1",
			"tether_mqtt_messages_in_total ",
		} {
			if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
				return fmt.Errorf("metrics lack %q:\n%s", want, text)
			}
		}
		return nil
	})

	// Drain the node it runs on: it moves to the other node.
	os.Remove(filepath.Join(work, "pid"))
	out, code = c.cli("node", "drain", "-enable", "-yes", "-deadline", "30s", first.NodeID)
	if code != 0 || !strings.Contains(out, "have stopped") {
		t.Fatalf("node drain exited %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, func() error {
		if pidAlive(pid) {
			return fmt.Errorf("task pid %d on the drained node still alive", pid)
		}
		return nil
	})
	newPid := readPid(t, filepath.Join(work, "pid")) // the replacement really runs
	if newPid == pid {
		t.Fatalf("replacement reported the old pid %d", pid)
	}
	var moved alloc
	eventually(t, 10*time.Second, func() error {
		var old, running []alloc
		for _, a := range c.allocs("chatty") {
			if a.ID == first.ID {
				old = append(old, a)
			}
			if a.ClientStatus == "running" && a.DesiredStatus == "run" {
				running = append(running, a)
			}
		}
		if len(old) != 1 || old[0].DesiredStatus != "stop" || len(running) != 1 || running[0].NodeID == first.NodeID {
			return fmt.Errorf("after drain: old %+v, running %+v", old, running)
		}
		moved = running[0]
		return nil
	})
	var full struct {
		DesiredDescription string `json:"desired_description"`
	}
	if err := c.get("/v1/allocation/"+first.ID, &full); err != nil || full.DesiredDescription != "alloc is being migrated" {
		t.Errorf("drained alloc desired_description %q (%v), want %q", full.DesiredDescription, err, "alloc is being migrated")
	}
	var n struct {
		Drain    bool `json:"drain"`
		Eligible bool `json:"eligible"`
	}
	if err := c.get("/v1/node/"+first.NodeID, &n); err != nil || !n.Drain || n.Eligible {
		t.Errorf("drained node drain=%v eligible=%v (%v)", n.Drain, n.Eligible, err)
	}
	if out, code := c.cli("alloc", "logs", moved.ID); code != 0 || !strings.HasPrefix(out, "hello from "+moved.ID) {
		t.Errorf("logs of the moved alloc exited %d:\n%s", code, out)
	}

	if out, code := c.cli("node", "drain", "-disable", first.NodeID); code != 0 {
		t.Fatalf("drain -disable exited %d:\n%s", code, out)
	}
	if err := c.get("/v1/node/"+first.NodeID, &n); err != nil || n.Drain || !n.Eligible {
		t.Errorf("undrained node drain=%v eligible=%v (%v)", n.Drain, n.Eligible, err)
	}
	// Nothing moves back: the alloc stays where it is.
	if as := c.allocs("chatty"); len(as) != 2 {
		t.Errorf("allocations after undrain: %+v", as)
	}
}

func getText(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}
