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

	"github.com/tether-edge/tether/internal/testhost"
)

// cgroupDriver returns a driver with per-task cgroups that enforce memory
// and cpu limits (through cgroup2, or cgroup v1 on a hybrid host). Under
// CI=true a host without them fails the test.
func cgroupDriver(t *testing.T) *Driver {
	t.Helper()
	d := New(testLogger())
	parent, controllers, reason := d.CgroupStatus()
	testhost.Require(t, parent != "", "a writable cgroup2 hierarchy ("+reason+")", "run as root with cgroupfs mounted read-write")
	testhost.Require(t, strings.Join(controllers, ",") == "cpu,memory", "the cpu and memory controllers, in cgroup2 or cgroup v1 (have "+strings.Join(controllers, ",")+")", "mount them read-write")
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

	t.Run("memory", func(t *testing.T) {
		file := filepath.Join(cg, "memory.max")
		if v1 := d.cg.v1Path("memory", cg); v1 != "" {
			file = filepath.Join(v1, "memory.limit_in_bytes")
			if procs := strings.Fields(readTrim(filepath.Join(v1, "cgroup.procs"))); !contains(procs, strconv.Itoa(h.sd.Pid)) {
				t.Errorf("v1 %s/cgroup.procs = %v, want the task pid %d in it", v1, procs, h.sd.Pid)
			}
		}
		if got := readTrim(file); got != strconv.Itoa(64<<20) {
			t.Fatalf("%s = %q, want %d", file, got, 64<<20)
		}
	})
	t.Run("cpu", func(t *testing.T) {
		file, want := filepath.Join(cg, "cpu.weight"), cpuWeight(500)
		if v1 := d.cg.v1Path("cpu", cg); v1 != "" {
			file, want = filepath.Join(v1, "cpu.shares"), 500
		}
		if got := readTrim(file); got != strconv.Itoa(want) {
			t.Fatalf("%s = %q, want %d", file, got, want)
		}
	})
	// Children forked by the task are in its limits too.
	if v1 := d.cg.v1Path("memory", cg); v1 != "" {
		if a, b := len(strings.Fields(readTrim(filepath.Join(cg, "cgroup.procs")))), len(strings.Fields(readTrim(filepath.Join(v1, "cgroup.procs")))); a != b {
			t.Errorf("cgroup2 holds %d processes of the task, its v1 memory cgroup %d", a, b)
		}
	}

	if err := h.Stop(5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	wait(t, h, time.Second)
	for _, dir := range []string{cg, d.cg.v1Path("memory", cg), d.cg.v1Path("cpu", cg)} {
		if _, err := os.Stat(dir); dir != "" && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cgroup %s still exists after the task exited: %v", dir, err)
		}
	}
}

func TestCgroupOOMKilled(t *testing.T) {
	d := cgroupDriver(t)
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
