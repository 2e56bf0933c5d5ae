package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tether-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writerJob is a service job whose exec task records its pid and keeps
// touching a file, so the test can see it run and see it stop. It has
// update { max_parallel = 0 }: it is replaced all at once, without a deployment. The tests using it are not
// about rollouts, and with Nomad's default update strategy every monitored
// submit would wait min_healthy_time (10s) for the deployment.
func writerJob(t *testing.T, dir string, count int) string {
	t.Helper()
	return writerJobWith(t, dir, count, "update {\n      max_parallel = 0\n    }")
}

// writerJobWith writes the writer job with update as its group's update
// block ("": none, Nomad's default update strategy).
func writerJobWith(t *testing.T, dir string, count int, update string) string {
	t.Helper()
	src := fmt.Sprintf(`job "writer" {
  datacenters = ["dc1"]

  group "g" {
    count = %d
    %s

    task "w" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > %[3]s/pid-$${NOMAD_ALLOC_INDEX}; echo $NOMAD_ALLOC_ID > %[3]s/alloc-$${NOMAD_ALLOC_INDEX}; while true; do date +%%s%%N > %[3]s/alive-$${NOMAD_ALLOC_INDEX}; sleep 0.2; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, count, update, dir)
	path := filepath.Join(dir, "writer.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return err
		}
		if !pidAlive(pid) {
			return fmt.Errorf("pid %d not alive", pid)
		}
		return nil
	})
	return pid
}

// jobLifecycle submits a job with the CLI, sees its task really run, and
// stops it: the path every user takes first.
func jobLifecycle(t *testing.T, c *cluster) {
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)

	work := t.TempDir()
	// No update block: Nomad's default update strategy, so the submit
	// follows the first version's deployment until it succeeds.
	out, code := c.cli("job", "submit", writerJobWith(t, work, 1, ""))
	if code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	for _, want := range []string{"Monitoring evaluation", "Monitoring deployment", `successful: version 0 of job "writer" is stable`} {
		if !strings.Contains(out, want) {
			t.Errorf("job submit printed no %q:\n%s", want, out)
		}
	}
	pid := readPid(t, filepath.Join(work, "pid-0"))

	var running alloc
	eventually(t, 10*time.Second, func() error {
		as := c.allocs("writer")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		running = as[0]
		return nil
	})
	if running.Score <= 0 {
		t.Errorf("allocation has no score: %+v", running)
	}
	if ts := running.TaskStates["w"]; ts.State != "running" {
		t.Errorf("task state %+v, want running", ts)
	}
	b, _ := os.ReadFile(filepath.Join(work, "alloc-0"))
	if strings.TrimSpace(string(b)) != running.ID {
		t.Errorf("task saw NOMAD_ALLOC_ID %q, want %q", b, running.ID)
	}
	if out, code := c.cli("alloc", "status", running.ID[:8]); code != 0 || !strings.Contains(out, "running") {
		t.Errorf("alloc status exited %d:\n%s", code, out)
	}
	out, code = c.cli("job", "status", "-json", "writer")
	var job map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &job) != nil || job["id"] != "writer" {
		t.Errorf("job status -json exited %d:\n%s", code, out)
	}

	if out, code := c.cli("job", "stop", "writer"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	eventually(t, 20*time.Second, func() error {
		if pidAlive(pid) {
			return fmt.Errorf("task pid %d still alive after job stop", pid)
		}
		as := c.allocs("writer")
		if len(as) != 1 || as[0].ClientStatus != "complete" || as[0].DesiredStatus != "stop" {
			return fmt.Errorf("allocations after stop: %+v", as)
		}
		return nil
	})
}

func TestJobLifecycleEmbeddedBroker(t *testing.T) {
	jobLifecycle(t, startCentral(t, clusterOpts{}))
}

func TestJobLifecycleMosquitto(t *testing.T) {
	url := startMosquitto(t)
	jobLifecycle(t, startCentral(t, clusterOpts{broker: url}))
}

// A node whose heartbeats stop goes down after the TTL, its allocation is
// marked lost and replaced on another node.
func TestNodeDownReplacesAllocation(t *testing.T) {
	c := startCentral(t, clusterOpts{ttl: "3s"})
	c.startAgent("a")
	c.startAgent("b")
	c.waitNode("a", "ready", 20*time.Second)
	c.waitNode("b", "ready", 20*time.Second)

	work := t.TempDir()
	if out, code := c.cli("job", "submit", writerJob(t, work, 1)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	pid := readPid(t, filepath.Join(work, "pid-0"))
	first := c.allocs("writer")[0]
	var victim string
	var nodes []node
	c.get("/v1/nodes", &nodes)
	for _, n := range nodes {
		if n.ID == first.NodeID {
			victim = n.Name
		}
	}
	// The device dies: its agent and its task, without a goodbye.
	c.agents[victim].stop(syscall.SIGKILL)
	syscall.Kill(-pid, syscall.SIGKILL)
	os.Remove(filepath.Join(work, "pid-0"))

	c.waitNode(victim, "down", 20*time.Second)
	eventually(t, 20*time.Second, func() error {
		var lost, replacement bool
		for _, a := range c.allocs("writer") {
			if a.ID == first.ID && a.ClientStatus == "lost" {
				lost = true
			}
			if a.ID != first.ID && a.NodeID != first.NodeID && a.ClientStatus == "running" {
				replacement = true
			}
		}
		if !lost || !replacement {
			return fmt.Errorf("lost=%v replacement running=%v: %+v", lost, replacement, c.allocs("writer"))
		}
		return nil
	})
	readPid(t, filepath.Join(work, "pid-0")) // the replacement really runs
}

// An agent that restarts re-attaches to its running task instead of
// restarting it, and can still stop it.
func TestAgentRestartReattaches(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	work := t.TempDir()
	if out, code := c.cli("job", "submit", writerJob(t, work, 1)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	pid := readPid(t, filepath.Join(work, "pid-0"))

	c.agents["edge-1"].stop(syscall.SIGTERM)
	if !pidAlive(pid) {
		t.Fatalf("stopping the agent killed its task %d", pid)
	}
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	eventually(t, 10*time.Second, func() error {
		as := c.allocs("writer")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		if r := as[0].TaskStates["w"].Restarts; r != 0 {
			return fmt.Errorf("task restarted %d times", r)
		}
		return nil
	})
	if now := readPid(t, filepath.Join(work, "pid-0")); now != pid {
		t.Fatalf("task was restarted: pid %d, was %d", now, pid)
	}
	if out, code := c.cli("job", "stop", "writer"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	eventually(t, 20*time.Second, func() error {
		if pidAlive(pid) {
			return fmt.Errorf("re-attached task %d still alive after job stop", pid)
		}
		return nil
	})
}

// Garbage on node topics is counted and dropped; central keeps serving.
func TestMalformedMessagesAreCountedAndDropped(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(c.broker).SetClientID("hostile"))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	payloads := [][]byte{{0xff}, []byte("{}"), {0xbf, 0xbf, 0xbf}, make([]byte, 100_000)}
	eventually(t, 20*time.Second, func() error {
		for _, kind := range []string{"hello", "hb", "up"} {
			for _, p := range payloads {
				cl.Publish("tether/v1/node/evil/"+kind, 1, false, p).Wait()
			}
		}
		var self struct {
			MQTT struct {
				Malformed int `json:"malformed"`
			} `json:"mqtt"`
		}
		if err := c.get("/v1/agent/self", &self); err != nil {
			return err
		}
		if self.MQTT.Malformed < len(payloads)*3 {
			return fmt.Errorf("malformed counter %d", self.MQTT.Malformed)
		}
		return nil
	})
	if c.central.exited() {
		t.Fatal("central exited on malformed input")
	}
	var nodes []node
	if err := c.get("/v1/nodes", &nodes); err != nil || len(nodes) != 0 {
		t.Fatalf("nodes after garbage: %v %+v", err, nodes)
	}
}

// A job file with an error is refused with its file, line and a fix.
func TestBadJobFileNamesFileAndLine(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	path := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(path, []byte("job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"dockr\"\n    }\n  }\n}\n"), 0o644)
	out, code := c.cli("job", "submit", path)
	if code == 0 {
		t.Fatalf("bad job accepted:\n%s", out)
	}
	if !strings.Contains(out, "bad.hcl:4") || !strings.Contains(out, "dockr") {
		t.Fatalf("error does not name file:line and the driver:\n%s", out)
	}
}
