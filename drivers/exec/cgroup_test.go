//go:build linux

package exec

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cgroupDriver returns a driver with per-task cgroups, or skips the test
// with the reason the host has none.
func cgroupDriver(t *testing.T) *Driver {
	t.Helper()
	d := New(testLogger())
	if parent, _, reason := d.CgroupStatus(); parent == "" {
		t.Log("skipping: " + reason)
		t.Skip("host lacks a writable cgroup2 hierarchy: " + reason)
	}
	return d
}

func TestCgroupPerTask(t *testing.T) {
	d := cgroupDriver(t)
	cfg := newTask(t, "a1/web", `cat /proc/self/cgroup > cg.txt; touch ready; sleep 1000 & wait`)
	cfg.MemoryMB = 64
	cfg.CPU = 500
	h := start(t, d, cfg).(*handle)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))

	cg := h.sd.Cgroup
	if cg != d.cg.taskPath("a1/web") {
		t.Fatalf("task cgroup = %q, want %q", cg, d.cg.taskPath("a1/web"))
	}
	procs := strings.Fields(readTrim(filepath.Join(cg, "cgroup.procs")))
	if len(procs) == 0 || procs[0] != strconv.Itoa(h.sd.Pid) && !contains(procs, strconv.Itoa(h.sd.Pid)) {
		t.Fatalf("cgroup.procs of %s = %v, want the task pid %d in it", cg, procs, h.sd.Pid)
	}
	rel := strings.TrimPrefix(cg, d.cg.mount)
	if got := readFile(t, filepath.Join(cfg.TaskDir, "cg.txt")); !strings.Contains(got, "0::"+rel+"\n") {
		t.Fatalf("a child of the task sees cgroups %q, want 0::%s", got, rel)
	}

	t.Run("memory.max", func(t *testing.T) {
		if !d.cg.controllers["memory"] {
			t.Skip("memory controller not available in cgroup2 on this host (bound to cgroup v1); memory.max cannot be set")
		}
		if got := readTrim(filepath.Join(cg, "memory.max")); got != strconv.Itoa(64<<20) {
			t.Fatalf("memory.max = %q, want %d", got, 64<<20)
		}
	})
	t.Run("cpu.weight", func(t *testing.T) {
		if !d.cg.controllers["cpu"] {
			t.Skip("cpu controller not available in cgroup2 on this host (bound to cgroup v1); cpu.weight cannot be set")
		}
		if got := readTrim(filepath.Join(cg, "cpu.weight")); got != strconv.Itoa(cpuWeight(500)) {
			t.Fatalf("cpu.weight = %q, want %d", got, cpuWeight(500))
		}
	})

	if err := h.Stop(5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	wait(t, h, time.Second)
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cgroup %s still exists after the task exited: %v", cg, err)
	}
}

func TestCgroupOOMKilled(t *testing.T) {
	d := cgroupDriver(t)
	if !d.cg.controllers["memory"] {
		t.Skip("memory controller not available in cgroup2 on this host (bound to cgroup v1); OOM detection needs it")
	}
	cfg := newTask(t, "a1/hog", `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived`)
	cfg.MemoryMB = 16
	r := wait(t, start(t, d, cfg), 60*time.Second)
	if !r.OOMKilled {
		t.Fatalf("result = %+v, want OOMKilled", r)
	}
}

func TestCgroupLeftoverReusedOnlyWhenEmpty(t *testing.T) {
	d := cgroupDriver(t)
	path := d.cg.taskPath("a1/left")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.cg.remove(path) })
	h := start(t, d, newTask(t, "a1/left", `exit 0`))
	if r := wait(t, h, 10*time.Second); !r.Successful() {
		t.Fatalf("start in an empty leftover cgroup: %+v", r)
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
