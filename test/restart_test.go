package test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Central going away for a while — killed and restarted on its data dir —
// restarts no task anywhere and marks no node down: the new leader gives
// every node a full heartbeat TTL to show it is alive.
func centralRestartRestartsNoTask(t *testing.T, c *cluster) {
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	work := t.TempDir()
	if out, code := c.cli("job", "submit", writerJob(t, work, 2)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	pids := []int{readPid(t, filepath.Join(work, "pid-0")), readPid(t, filepath.Join(work, "pid-1"))}

	c.restartCentral(true)
	// Watch for longer than TTL + grace (2 s + 1 s): nothing may change.
	until := time.Now().Add(6 * time.Second)
	for time.Now().Before(until) {
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err == nil {
			for _, n := range nodes {
				if n.Status != "ready" {
					t.Fatalf("node %s went %s after central restarted", n.Name, n.Status)
				}
			}
		}
		for i, pid := range pids {
			if !pidAlive(pid) {
				t.Fatalf("task %d (pid %d) died after central restarted", i, pid)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	eventually(t, 10*time.Second, func() error {
		as := c.allocs("writer")
		if len(as) != 2 {
			return fmt.Errorf("allocations: %+v", as)
		}
		for _, a := range as {
			if a.ClientStatus != "running" || a.TaskStates["w"].Restarts != 0 {
				return fmt.Errorf("allocation %s is %s with %d restarts", a.ID, a.ClientStatus, a.TaskStates["w"].Restarts)
			}
		}
		return nil
	})
	for i, pid := range pids {
		if now := readPid(t, filepath.Join(work, fmt.Sprintf("pid-%d", i))); now != pid {
			t.Fatalf("task %d restarted: pid %d, was %d", i, now, pid)
		}
	}
}

func TestCentralRestartEmbeddedBroker(t *testing.T) {
	centralRestartRestartsNoTask(t, startCentral(t, clusterOpts{ttl: "2s"}))
}

func TestCentralRestartMosquitto(t *testing.T) {
	centralRestartRestartsNoTask(t, startCentral(t, clusterOpts{ttl: "2s", broker: startMosquitto(t)}))
}
