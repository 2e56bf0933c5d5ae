package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lifeTask is a task's state as GET /v1/allocation/<id> shows it.
type lifeTask struct {
	State    string `json:"state"`
	Failed   bool   `json:"failed"`
	Restarts int    `json:"restarts"`
	Events   []struct {
		Type string `json:"type"`
	} `json:"events"`
}

func (td lifeTask) eventTypes() []string {
	var out []string
	for _, e := range td.Events {
		out = append(out, e.Type)
	}
	return out
}

// allocDetail fetches the only allocation of job.
func (c *cluster) lifeAlloc(job string) (id, status string, tasks map[string]lifeTask, err error) {
	as := c.allocs(job)
	if len(as) != 1 {
		return "", "", nil, fmt.Errorf("job %s has %d allocations, want 1", job, len(as))
	}
	var a struct {
		ClientStatus string              `json:"client_status"`
		TaskStates   map[string]lifeTask `json:"task_states"`
	}
	if err := c.get("/v1/allocation/"+as[0].ID, &a); err != nil {
		return "", "", nil, err
	}
	return as[0].ID, a.ClientStatus, a.TaskStates, nil
}

func lifeJob(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func lifeLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

func lifeInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// An exec batch job with every kind of hook: the prestart task writes a
// file the main task reads at start and runs once; the prestart sidecar
// runs beside main and is killed when main ends; the poststop task runs
// after main and the sidecar are gone.
func TestLifecycleExecEndToEnd(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	w := t.TempDir()
	job := lifeJob(t, "life", fmt.Sprintf(`job "life" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "init" {
      driver = "exec"
      lifecycle {
        hook = "prestart"
      }
      restart {
        attempts = 0
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "echo run >> %[1]s/init-runs; echo ready-from-init > $NOMAD_ALLOC_DIR/data/init.txt"]
      }
    }
    task "side" {
      driver = "exec"
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      kill_timeout = "1s"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > %[1]s/side.pid; while true; do sleep 0.1; done"]
      }
    }
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat $NOMAD_ALLOC_DIR/data/init.txt > %[1]s/main-saw || exit 7; echo $$ > %[1]s/main.pid; while [ ! -f %[1]s/release ]; do sleep 0.1; done; echo done > %[1]s/main-done"]
      }
    }
    task "post" {
      driver = "exec"
      lifecycle {
        hook = "poststop"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "if [ -f %[1]s/main-done ] && ! kill -0 $(cat %[1]s/side.pid) 2>/dev/null; then echo after-main > %[1]s/post; else echo too-early > %[1]s/post; fi"]
      }
    }
  }
}
`, w))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var mainPid, sidePid int
	eventually(t, 30*time.Second, func() error {
		var err error
		if mainPid, err = lifeInt(filepath.Join(w, "main.pid")); err != nil {
			return err
		}
		sidePid, err = lifeInt(filepath.Join(w, "side.pid"))
		return err
	})
	if b, _ := os.ReadFile(filepath.Join(w, "main-saw")); strings.TrimSpace(string(b)) != "ready-from-init" {
		t.Fatalf("main read %q at start, want the prestart task's file", b)
	}
	if !pidAlive(sidePid) || !pidAlive(mainPid) {
		t.Fatalf("sidecar (pid %d alive %v) does not run beside main (pid %d alive %v)", sidePid, pidAlive(sidePid), mainPid, pidAlive(mainPid))
	}
	eventually(t, 20*time.Second, func() error {
		_, status, ts, err := c.lifeAlloc("life")
		if err != nil {
			return err
		}
		if status != "running" || ts["init"].State != "dead" || ts["init"].Failed || ts["side"].State != "running" || ts["main"].State != "running" || ts["post"].State != "pending" {
			return fmt.Errorf("alloc %s, tasks %+v", status, ts)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(w, "post")); err == nil {
		t.Fatal("poststop task ran while main runs")
	}

	if err := os.WriteFile(filepath.Join(w, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, status, ts, err := c.lifeAlloc("life")
		if err != nil {
			return err
		}
		if status != "complete" {
			return fmt.Errorf("alloc %s, tasks %+v", status, ts)
		}
		for _, n := range []string{"init", "main", "post"} {
			if ts[n].State != "dead" || ts[n].Failed || ts[n].Restarts != 0 {
				return fmt.Errorf("task %s: %+v", n, ts[n])
			}
		}
		if !slices.Contains(ts["side"].eventTypes(), "Killed") {
			return fmt.Errorf("sidecar was not killed: %v", ts["side"].eventTypes())
		}
		return nil
	})
	if b, _ := os.ReadFile(filepath.Join(w, "post")); strings.TrimSpace(string(b)) != "after-main" {
		t.Fatalf("poststop saw %q, want after-main (main done, sidecar gone)", b)
	}
	if n := lifeLines(filepath.Join(w, "init-runs")); n != 1 {
		t.Fatalf("prestart task ran %d times, want 1", n)
	}
	if pidAlive(sidePid) {
		t.Fatalf("sidecar pid %d outlived the allocation", sidePid)
	}
}

// An agent restarted (killed) while the prestart task runs re-attaches to
// it, and main still waits for it; an agent restarted after the prestart
// task finished does not run it again.
func TestLifecyclePrestartAcrossAgentRestart(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	w := t.TempDir()
	job := lifeJob(t, "liferestart", fmt.Sprintf(`job "liferestart" {
  datacenters = ["dc1"]
  group "g" {
    task "init" {
      driver = "exec"
      lifecycle {
        hook = "prestart"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "echo run >> %[1]s/init-runs; while [ ! -f %[1]s/go ]; do sleep 0.1; done"]
      }
    }
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo run >> %[1]s/main-runs; while true; do sleep 0.2; done"]
      }
    }
  }
}
`, w))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		if n := lifeLines(filepath.Join(w, "init-runs")); n != 1 {
			return fmt.Errorf("init ran %d times", n)
		}
		return nil
	})
	reattached := func(task string) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			_, _, ts, err := c.lifeAlloc("liferestart")
			if err != nil {
				return err
			}
			if ev := ts[task].eventTypes(); len(ev) == 0 || ev[len(ev)-1] != "Reattached" {
				return fmt.Errorf("task %s events %v", task, ev)
			}
			return nil
		})
	}

	// Killed mid-prestart: the new agent re-attaches to init; main waits.
	c.agents["edge-1"].stop(syscall.SIGKILL)
	c.startAgent("edge-1")
	reattached("init")
	if n := lifeLines(filepath.Join(w, "main-runs")); n != 0 {
		t.Fatalf("main ran %d times before the prestart task finished", n)
	}
	if n := lifeLines(filepath.Join(w, "init-runs")); n != 1 {
		t.Fatalf("prestart task ran %d times across the agent restart, want 1 (re-attached)", n)
	}
	if err := os.WriteFile(filepath.Join(w, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, status, ts, err := c.lifeAlloc("liferestart")
		if err != nil {
			return err
		}
		if status != "running" || ts["init"].State != "dead" || ts["init"].Failed || ts["main"].State != "running" || lifeLines(filepath.Join(w, "main-runs")) != 1 {
			return fmt.Errorf("alloc %s, tasks %+v", status, ts)
		}
		return nil
	})

	// Killed after the prestart task finished: main is re-attached, the
	// prestart task is not run again.
	c.agents["edge-1"].stop(syscall.SIGKILL)
	c.startAgent("edge-1")
	reattached("main")
	_, status, ts, err := c.lifeAlloc("liferestart")
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for _, e := range ts["init"].eventTypes() {
		if e == "Started" {
			started++
		}
	}
	if status != "running" || ts["init"].State != "dead" || ts["init"].Failed || ts["init"].Restarts != 0 || started != 1 {
		t.Fatalf("after the second agent restart: alloc %s, tasks %+v", status, ts)
	}
	if n := lifeLines(filepath.Join(w, "init-runs")); n != 1 {
		t.Fatalf("prestart task ran %d times, want 1", n)
	}
	if n := lifeLines(filepath.Join(w, "main-runs")); n != 1 {
		t.Fatalf("main ran %d times, want 1 (re-attached)", n)
	}
}

// A wasm prestart task writes a file in the shared alloc dir that the wasm
// main task prints when it starts.
func TestLifecycleWasmPrestart(t *testing.T) {
	module := buildWasm(t, "files")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	job := lifeJob(t, "wasmlife", fmt.Sprintf(`job "wasmlife" {
  datacenters = ["dc1"]
  group "g" {
    task "init" {
      driver = "wasm"
      lifecycle {
        hook = "prestart"
      }
      config {
        module = %[1]q
        args   = ["write", "/alloc/data/init.txt", "ready-from-wasm-init"]
      }
    }
    task "main" {
      driver = "wasm"
      config {
        module = %[1]q
        args   = ["cat", "/alloc/data/init.txt"]
      }
    }
  }
}
`, module))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	waitPrestartThenMain(t, c, "wasmlife", "ready-from-wasm-init")
}

// The same with Podman containers.
func TestLifecyclePodmanPrestart(t *testing.T) {
	c, _, image := startPodmanEdge(t)
	job := lifeJob(t, "podlife", fmt.Sprintf(`job "podlife" {
  datacenters = ["dc1"]
  group "g" {
    task "init" {
      driver = "podman"
      lifecycle {
        hook = "prestart"
      }
      config {
        image   = %[1]q
        command = "/bin/sh"
        args    = ["-c", "echo ready-from-podman-init > /alloc/data/init.txt"]
      }
    }
    task "main" {
      driver = "podman"
      config {
        image   = %[1]q
        command = "/bin/sh"
        args    = ["-c", "cat /alloc/data/init.txt || exit 7; exec sleep 600"]
      }
    }
  }
}
`, image))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	waitPrestartThenMain(t, c, "podlife", "ready-from-podman-init")
}

// waitPrestartThenMain waits for job's init task to have finished once
// and its main task to run, having printed want.
func waitPrestartThenMain(t *testing.T, c *cluster, job, want string) {
	t.Helper()
	var id string
	eventually(t, 60*time.Second, func() error {
		allocID, status, ts, err := c.lifeAlloc(job)
		if err != nil {
			return err
		}
		id = allocID
		if status != "running" || ts["init"].State != "dead" || ts["init"].Failed || ts["init"].Restarts != 0 || ts["main"].State != "running" {
			return fmt.Errorf("alloc %s, tasks %+v", status, ts)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		out, code := c.cli("alloc", "logs", id, "main")
		if code != 0 || !strings.Contains(out, want) {
			return fmt.Errorf("main's output (exit %d): %q", code, out)
		}
		return nil
	})
	_, _, ts, err := c.lifeAlloc(job)
	if err != nil {
		t.Fatal(err)
	}
	if n := slices.Index(ts["init"].eventTypes(), "Started"); n < 0 || ts["init"].Restarts != 0 {
		t.Fatalf("init %+v", ts["init"])
	}
	if ts["main"].Restarts != 0 {
		t.Fatalf("main restarted %d times (it failed to read the prestart task's file?)", ts["main"].Restarts)
	}
}

// A job stop kills the main task, then runs the poststop task to the end.
func TestLifecyclePoststopOnJobStop(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	w := t.TempDir()
	job := lifeJob(t, "lifestop", fmt.Sprintf(`job "lifestop" {
  datacenters = ["dc1"]
  group "g" {
    task "main" {
      driver       = "exec"
      kill_timeout = "2s"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > %[1]s/main.pid; while true; do sleep 0.1; done"]
      }
    }
    task "post" {
      driver = "exec"
      lifecycle {
        hook = "poststop"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "if kill -0 $(cat %[1]s/main.pid) 2>/dev/null; then echo too-early > %[1]s/post; else echo after-main > %[1]s/post; fi"]
      }
    }
  }
}
`, w))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		_, status, ts, err := c.lifeAlloc("lifestop")
		if err != nil {
			return err
		}
		if status != "running" || ts["main"].State != "running" || ts["post"].State != "pending" {
			return fmt.Errorf("alloc %s, tasks %+v", status, ts)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(w, "post")); err == nil {
		t.Fatal("poststop task ran beside main")
	}
	if out, code := c.cli("job", "stop", "-detach", "lifestop"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(w, "post"))
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(b)); s != "after-main" {
			return fmt.Errorf("poststop saw %q, want after-main", s)
		}
		return nil
	})
}
