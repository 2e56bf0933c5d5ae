package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lifecycleJob runs one exec task that writes its PID to dir/pid-<alloc>
// and a line to dir/hup-<alloc> on every SIGHUP. Its restart policy
// allows no restart: an operator's restart must not count against it.
func lifecycleJob(t *testing.T, dir string) string {
	t.Helper()
	src := fmt.Sprintf(`job "life" {
  datacenters = ["dc1"]

  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo hup >> %[1]s/hup-$${NOMAD_ALLOC_ID}' HUP; echo $$ > %[1]s/pid-$${NOMAD_ALLOC_ID}; while true; do sleep 0.2; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, dir)
	path := filepath.Join(dir, "life.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lifeAlloc is an allocation with its task events.
type lifeAlloc struct {
	ID            string `json:"id"`
	ClientStatus  string `json:"client_status"`
	DesiredStatus string `json:"desired_status"`
	TaskStates    map[string]struct {
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
		Events   []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"events"`
	} `json:"task_states"`
}

func (a lifeAlloc) events(typ string) []string {
	var out []string
	for _, ev := range a.TaskStates["t"].Events {
		if ev.Type == typ {
			out = append(out, ev.Message)
		}
	}
	return out
}

func hupLines(dir, allocID string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "hup-"+allocID))
	return strings.Count(string(b), "hup\n")
}

// alloc restart, signal and stop end to end, with ACLs on: a token without
// alloc-lifecycle is refused; signal -s HUP reaches the task; restart
// gives it a new PID in the same allocation, once (an agent restart does
// not apply it again); stop replaces the allocation.
func TestAllocRestartSignalStop(t *testing.T) {
	c := startCentral(t, clusterOpts{acl: true})
	out, code := c.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	c.token = secretID(t, out)
	policy := filepath.Join(t.TempDir(), "no-lifecycle.hcl")
	if err := os.WriteFile(policy, []byte("namespace \"*\" {\n  policy = \"read\"\n  capabilities = [\"submit-job\", \"read-logs\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("acl", "policy", "apply", "no-lifecycle", policy); code != 0 {
		t.Fatalf("acl policy apply exited %d:\n%s", code, out)
	}
	out, code = c.cli("acl", "token", "create", "-name", "ops-reader", "-policy", "no-lifecycle")
	if code != 0 {
		t.Fatalf("acl token create exited %d:\n%s", code, out)
	}
	reader := secretID(t, out)

	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	work := t.TempDir()
	if out, code := c.cli("job", "submit", lifecycleJob(t, work)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	as := c.allocs("life")
	if len(as) != 1 {
		t.Fatalf("allocations: %+v", as)
	}
	id := as[0].ID
	short := id[:8]
	pid1 := readPid(t, filepath.Join(work, "pid-"+id))
	get := func() lifeAlloc {
		var a lifeAlloc
		if err := c.get("/v1/allocation/"+id, &a); err != nil {
			t.Fatalf("allocation %s: %v", id, err)
		}
		return a
	}

	// A token without alloc-lifecycle: refused, nothing happens.
	for _, args := range [][]string{{"alloc", "restart", short}, {"alloc", "signal", "-s", "HUP", short}, {"alloc", "stop", short}} {
		out, code := c.cliToken(reader, args...)
		if code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, `"alloc-lifecycle"`) {
			t.Fatalf("%v with a token lacking alloc-lifecycle exited %d:\n%s", args, code, out)
		}
	}

	// signal -s HUP reaches the task, which traps it.
	out, code = c.cli("alloc", "signal", "-s", "HUP", short)
	if code != 0 || !strings.Contains(out, "Signal SIGHUP sent") {
		t.Fatalf("alloc signal exited %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, func() error {
		if n := hupLines(work, id); n != 1 {
			return fmt.Errorf("%d hup lines, want 1", n)
		}
		return nil
	})
	if !pidAlive(pid1) {
		t.Fatalf("the task (pid %d) died of its SIGHUP", pid1)
	}

	// restart: a new process in the same allocation; not against the
	// restart policy (attempts = 0, mode fail).
	out, code = c.cli("alloc", "restart", "-task", "t", short)
	if code != 0 || !strings.Contains(out, "Restart requested by an operator") {
		t.Fatalf("alloc restart exited %d:\n%s", code, out)
	}
	var pid2 int
	eventually(t, 20*time.Second, func() error {
		pid2 = readPid(t, filepath.Join(work, "pid-"+id))
		if pid2 == pid1 {
			return fmt.Errorf("still pid %d", pid1)
		}
		a := get()
		if a.ClientStatus != "running" || a.TaskStates["t"].State != "running" || a.TaskStates["t"].Restarts != 1 {
			return fmt.Errorf("allocation is %s, task %+v", a.ClientStatus, a.TaskStates["t"])
		}
		return nil
	})
	if pidAlive(pid1) {
		t.Fatalf("the old process %d still runs after the restart", pid1)
	}
	if as := c.allocs("life"); len(as) != 1 || as[0].ID != id {
		t.Fatalf("a restart changed the allocations: %+v", as)
	}

	// An agent restart applies nothing again: the next request (a second
	// HUP) is applied after the restart would have been, in order.
	c.agents["edge-1"].stop(syscall.SIGTERM)
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	eventually(t, 20*time.Second, func() error {
		out, code := c.cli("alloc", "signal", "-s", "SIGHUP", short)
		if code != 0 {
			return fmt.Errorf("alloc signal after the agent restart exited %d: %s", code, out)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		if n := hupLines(work, id); n != 2 {
			return fmt.Errorf("%d hup lines, want 2", n)
		}
		return nil
	})
	if now := readPid(t, filepath.Join(work, "pid-"+id)); now != pid2 {
		t.Fatalf("the task restarted again after the agent restarted: pid %d, was %d", now, pid2)
	}
	if out, code := c.cli("alloc", "status", short); code != 0 || !strings.Contains(out, "Operator Actions:") || !strings.Contains(out, "signal SIGHUP") || !strings.Contains(out, `token "Bootstrap Token"`) {
		t.Fatalf("alloc status exited %d without the operator actions:\n%s", code, out)
	}
	if n := len(get().events("Restart Signaled")); n != 1 {
		t.Fatalf("%d Restart Signaled events, want 1: %+v", n, get().TaskStates["t"].Events)
	}

	// stop: the allocation stops and a replacement runs.
	out, code = c.cli("alloc", "stop", short)
	if code != 0 {
		t.Fatalf("alloc stop exited %d:\n%s", code, out)
	}
	var next string
	eventually(t, 30*time.Second, func() error {
		for _, a := range c.allocs("life") {
			switch {
			case a.ID == id && (a.DesiredStatus != "stop" || a.ClientStatus == "running"):
				return fmt.Errorf("stopped allocation is %s/%s", a.DesiredStatus, a.ClientStatus)
			case a.ID != id && a.ClientStatus == "running":
				next = a.ID
			}
		}
		if next == "" {
			return fmt.Errorf("no replacement running")
		}
		return nil
	})
	readPid(t, filepath.Join(work, "pid-"+next))
	var repl struct {
		PreviousAllocation string `json:"previous_allocation"`
	}
	if err := c.get("/v1/allocation/"+next, &repl); err != nil || repl.PreviousAllocation != id {
		t.Fatalf("the replacement's previous allocation is %q (%v), want %s", repl.PreviousAllocation, err, id)
	}
	if pidAlive(pid2) {
		t.Fatalf("the stopped allocation's process %d still runs", pid2)
	}
	// Acting on the stopped allocation is refused.
	if out, code := c.cli("alloc", "restart", short); code == 0 || !strings.Contains(out, "not running") {
		t.Fatalf("alloc restart of a stopped allocation exited %d:\n%s", code, out)
	}
}

// alloc signal and restart reach a Podman task: the signal through
// Podman's kill (the container's sh traps HUP), the restart as a new
// container start in the same allocation.
func TestPodmanAllocRestartSignal(t *testing.T) {
	c, _, image := startPodmanEdge(t)
	job := filepath.Join(t.TempDir(), "pod.hcl")
	if err := os.WriteFile(job, []byte(fmt.Sprintf(`job "podlife" {
  datacenters = ["dc1"]
  group "g" {
    task "c" {
      driver = "podman"
      config {
        image   = %q
        command = "sh"
        args    = ["-c", "echo start >> /local/starts; trap 'echo hup >> /local/hup' HUP; while true; do sleep 0.2; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, image)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	as := c.allocs("podlife")
	if len(as) != 1 {
		t.Fatalf("allocations: %+v", as)
	}
	id := as[0].ID
	local := filepath.Join(c.dir, "agent-edge-1", "allocs", id, "c", "local")
	lines := func(name, want string) int {
		b, _ := os.ReadFile(filepath.Join(local, name))
		return strings.Count(string(b), want+"\n")
	}
	eventually(t, 60*time.Second, func() error {
		if n := lines("starts", "start"); n != 1 {
			return fmt.Errorf("%d starts, want 1", n)
		}
		return nil
	})

	if out, code := c.cli("alloc", "signal", "-s", "HUP", id[:8]); code != 0 || !strings.Contains(out, "Signal SIGHUP sent") {
		t.Fatalf("alloc signal exited %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, func() error {
		if n := lines("hup", "hup"); n != 1 {
			return fmt.Errorf("%d hup lines, want 1", n)
		}
		return nil
	})

	if out, code := c.cli("alloc", "restart", id[:8], "c"); code != 0 {
		t.Fatalf("alloc restart exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		if n := lines("starts", "start"); n != 2 {
			return fmt.Errorf("%d starts, want 2", n)
		}
		as := c.allocs("podlife")
		if len(as) != 1 || as[0].ID != id || as[0].ClientStatus != "running" || as[0].TaskStates["c"].Restarts != 1 {
			return fmt.Errorf("allocations after the restart: %+v", as)
		}
		return nil
	})
}
