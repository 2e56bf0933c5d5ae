package test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/podman/podmantest"
)

// Benchmarks against real processes. Run with:
//
//	go test -run '^$' -bench . -benchtime 1x ./test/
//
// They report metrics, not timings of the Go loop.

func agentRSSMiB(t testing.TB, p *proc) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkWasmTenTasksAgentRSS: the agent's RSS with ten small wasm
// guests running (they run inside the agent). Goal: ≤ 30 MB.
func BenchmarkWasmTenTasksAgentRSS(b *testing.B) {
	module := buildWasm(b, "sleep")
	for i := 0; i < b.N; i++ {
		c := startCentral(b, clusterOpts{})
		agent := c.startAgent("edge-1")
		c.waitNode("edge-1", "ready", 20*time.Second)
		idle := agentRSSMiB(b, agent)
		job := filepath.Join(b.TempDir(), "sleep.hcl")
		os.WriteFile(job, []byte(fmt.Sprintf(`job "sleepers" {
  datacenters = ["dc1"]
  group "g" {
    count = 10
    task "s" {
      driver = "wasm"
      config {
        module = %q
      }
      resources {
        cpu    = 10
        memory = 4
      }
    }
  }
}
`, module)), 0o644)
		if out, code := c.cli("job", "submit", job); code != 0 {
			b.Fatalf("submit exited %d:\n%s", code, out)
		}
		eventually(b, 30*time.Second, func() error {
			n := 0
			for _, a := range c.allocs("sleepers") {
				if a.ClientStatus == "running" {
					n++
				}
			}
			if n != 10 {
				return fmt.Errorf("%d running", n)
			}
			return nil
		})
		b.ReportMetric(idle, "idle_MiB")
		b.ReportMetric(agentRSSMiB(b, agent), "with10_MiB")
	}
}

// BenchmarkPodmanSubmitToRunning: submit → the API shows running, one
// container from a local image.
func BenchmarkPodmanSubmitToRunning(b *testing.B) {
	socket := podmantest.Start(b)
	image := podmantest.Image(b, socket)
	c := startCentral(b, clusterOpts{})
	c.agentEnv = []string{"CONTAINER_HOST=unix://" + socket}
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("pod%d", i)
		job := filepath.Join(b.TempDir(), name+".hcl")
		os.WriteFile(job, []byte(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "podman"
      config {
        image   = %q
        command = "sleep"
        args    = ["3600"]
      }
    }
  }
}
`, name, image)), 0o644)
		start := time.Now()
		if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
			b.Fatalf("submit exited %d:\n%s", code, out)
		}
		eventually(b, 60*time.Second, func() error {
			if as := c.allocs(name); len(as) != 1 || as[0].ClientStatus != "running" {
				return fmt.Errorf("not running")
			}
			return nil
		})
		ds = append(ds, time.Since(start))
		c.cli("job", "stop", "-detach", name)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[len(ds)/2].Milliseconds()), "median_ms")
}
