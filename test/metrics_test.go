package test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// burnJob is an exec task that holds about 16 MB in a shell variable and
// keeps one core busy.
func burnJob(t *testing.T, dir string) string {
	t.Helper()
	src := `job "burn" {
  datacenters = ["dc1"]
  group "g" {
    task "burn" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "x=$(head -c 16000000 /dev/zero | tr '\\000' a); while :; do :; done"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`
	path := filepath.Join(dir, "burn.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// statLine returns the value of a "Key  = value" line of CLI output.
func statLine(out, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s+= (.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// leadingFloat parses "12.5%" or "300.0 MiB / ..." up to its first space
// or percent sign.
func leadingFloat(s string) float64 {
	s, _, _ = strings.Cut(s, " ")
	f, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	return f
}

// A node running a busy task: node status -stats shows non-zero CPU,
// memory and disk from its heartbeats; the leader's history has samples;
// /v1/metrics has the node's gauges; alloc status -stats shows the task's
// CPU and memory as its agent measures them.
func TestNodeAndAllocStats(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	n := c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", burnJob(t, t.TempDir())); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	allocs := c.waitRunning("burn", 1, 60*time.Second)

	var out string
	eventually(t, 60*time.Second, func() error {
		var code int
		out, code = c.cli("node", "status", "-stats", n.ID[:8])
		if code != 0 {
			return fmt.Errorf("node status -stats exited %d:\n%s", code, out)
		}
		for _, k := range []string{"CPU", "Memory", "Disk (data dir)"} {
			if v := statLine(out, k); leadingFloat(v) <= 0 {
				return fmt.Errorf("%s is %q, want above zero:\n%s", k, v, out)
			}
		}
		return nil
	})
	t.Logf("node status -stats:\n%s", out)
	if !strings.Contains(out, "Host Resource Utilization") || statLine(out, "Reserved") != "none" {
		t.Fatalf("node status -stats:\n%s", out)
	}
	var latest map[string]any
	if out, code := c.cli("node", "status", "-stats", "-json", n.ID); code != 0 || json.Unmarshal([]byte(out), &latest) != nil || latest["node_id"] != n.ID {
		t.Fatalf("node status -stats -json (%d):\n%s", code, out)
	}

	var hist struct {
		NodeID  string `json:"node_id"`
		Samples []struct {
			Time            int64   `json:"time"`
			CPUPercent      float64 `json:"cpu_percent"`
			MemoryUsedBytes uint64  `json:"memory_used_bytes"`
			MemoryTotal     uint64  `json:"memory_total_bytes"`
		} `json:"samples"`
	}
	eventually(t, 30*time.Second, func() error {
		if err := c.get("/v1/node/"+n.ID+"/stats", &hist); err != nil {
			return err
		}
		if len(hist.Samples) == 0 {
			return fmt.Errorf("no samples")
		}
		s := hist.Samples[len(hist.Samples)-1]
		if s.CPUPercent <= 0 || s.MemoryUsedBytes == 0 || s.MemoryTotal < s.MemoryUsedBytes {
			return fmt.Errorf("latest sample %+v", s)
		}
		return nil
	})

	resp, err := c.do("GET", "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range []string{"tether_agent_cpu_percent", "tether_agent_memory_used_bytes", "tether_agent_disk_used_bytes"} {
		if !strings.Contains(string(body), series+`{node="`+n.ID+`"}`) {
			t.Errorf("/v1/metrics has no %s for node %s", series, n.ID)
		}
	}

	a := allocs[0]
	eventually(t, 60*time.Second, func() error {
		var code int
		out, code = c.cli("alloc", "status", "-stats", a.ID[:8])
		if code != 0 {
			return fmt.Errorf("alloc status -stats exited %d:\n%s", code, out)
		}
		m := regexp.MustCompile(`(?m)^burn\s+(\S+)\s+\S+ s\s+(\S+ \S+)`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no line for task burn:\n%s", out)
		}
		if leadingFloat(m[1]) < 10 || leadingFloat(m[2]) <= 0 {
			return fmt.Errorf("task burn: CPU %s, memory %s: want a busy core and its memory:\n%s", m[1], m[2], out)
		}
		return nil
	})
	t.Logf("alloc status -stats:\n%s", out)
	var st struct {
		AllocID string `json:"alloc_id"`
		Tasks   map[string]struct {
			CPUPercent      *float64 `json:"cpu_percent"`
			MemoryUsedBytes *uint64  `json:"memory_used_bytes"`
		} `json:"tasks"`
	}
	out, code := c.cli("alloc", "status", "-stats", "-json", a.ID)
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.AllocID != a.ID {
		t.Fatalf("alloc status -stats -json (%d):\n%s", code, out)
	}
	if b := st.Tasks["burn"]; b.MemoryUsedBytes == nil || *b.MemoryUsedBytes < 8<<20 || b.CPUPercent == nil {
		t.Fatalf("alloc stats: %s", out)
	}
}

// A node that reserves memory refuses a job that would fit without the
// reservation, and the placement failure names the dimension; node status
// shows the reservation.
func TestReservedMemoryRefusesJob(t *testing.T) {
	totalMB := hostMemoryMB(t)
	c := startCentral(t, clusterOpts{})
	reserved := totalMB - 100 // 100 MB left to place into
	c.startAgent("edge-1", "-reserved-memory", strconv.Itoa(reserved))
	n := c.waitNode("edge-1", "ready", 20*time.Second)
	eventually(t, 30*time.Second, func() error {
		var full struct {
			Reserved *struct {
				MemoryMB int `json:"memory_mb"`
			} `json:"reserved"`
		}
		if err := c.get("/v1/node/"+n.ID, &full); err != nil {
			return err
		}
		if full.Reserved == nil || full.Reserved.MemoryMB != reserved {
			return fmt.Errorf("node reserved %+v, want memory %d MB", full.Reserved, reserved)
		}
		return nil
	})
	if out, _ := c.cli("node", "status", n.ID); statLine(out, "Reserved") != fmt.Sprintf("cpu 0 MHz, memory %d MB", reserved) {
		t.Fatalf("node status:\n%s", out)
	}

	dir := t.TempDir()
	job := func(name string, memMB int) string {
		src := fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 3600"]
      }
      resources {
        cpu    = 50
        memory = %d
      }
    }
  }
}
`, name, memMB)
		path := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// 200 MB: fits the node, not what its reservation leaves.
	out, _ := c.cli("job", "submit", job("big", 200))
	if !strings.Contains(out, `Dimension "memory" exhausted on 1 nodes`) {
		t.Fatalf("submit of a job the reservation leaves no room for:\n%s", out)
	}
	if as := c.allocs("big"); len(as) != 0 {
		t.Fatalf("big placed: %+v", as)
	}
	// 50 MB fits in what is left.
	if out, code := c.cli("job", "submit", job("small", 50)); code != 0 {
		t.Fatalf("submit small exited %d:\n%s", code, out)
	}
	c.waitRunning("small", 1, 60*time.Second)
}

// hostMemoryMB is this machine's memory as the agent fingerprints it.
func hostMemoryMB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^MemTotal:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no MemTotal in /proc/meminfo")
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}
