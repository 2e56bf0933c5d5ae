//go:build linux

package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultCgroupMounts are where the driver looks for a cgroup2 hierarchy:
// the unified layout, then the hybrid layout's unified mount.
var DefaultCgroupMounts = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// cgroups is the driver's cgroup v2 setup, found once. It is immutable.
type cgroups struct {
	mount       string          // the cgroup2 mount point
	parent      string          // <mount>/<parent name>: per-task cgroups live below
	controllers map[string]bool // enabled for the per-task cgroups: "memory", "cpu"
}

// wantControllers are the controllers the driver sets limits with.
var wantControllers = []string{"cpu", "memory"}

// detectCgroups finds a writable cgroup2 hierarchy and prepares the parent
// cgroup. It returns nil and the reason when there is none; notes lists
// limits that cannot be enforced.
func detectCgroups(mounts []string, parentName string) (cg *cgroups, reason string, notes []string) {
	mount := ""
	for _, m := range mounts {
		var fs unix.Statfs_t
		if err := unix.Statfs(m, &fs); err == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
			mount = m
			break
		}
	}
	if mount == "" {
		return nil, fmt.Sprintf("no cgroup2 hierarchy mounted at %s (cgroup v1 only); mount cgroup2 or boot with systemd.unified_cgroup_hierarchy=1 for per-task limits", strings.Join(mounts, " or ")), nil
	}
	parent := filepath.Join(mount, parentName)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Sprintf("cgroup2 at %s is not writable (%v); run the agent as root with a read-write cgroup2 mount for per-task limits", mount, err), nil
	}
	// Probe that we can create a child: the parent may pre-exist read-only.
	probe := filepath.Join(parent, ".probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return nil, fmt.Sprintf("cannot create cgroups under %s (%v); run the agent as root with a read-write cgroup2 mount for per-task limits", parent, err), nil
	}
	_ = os.Remove(probe)

	available := fieldsSet(readTrim(filepath.Join(mount, "cgroup.controllers")))
	for _, c := range wantControllers {
		if !available[c] {
			continue
		}
		// The mount's root, then our parent, must delegate the controller.
		_ = writeFile(filepath.Join(mount, "cgroup.subtree_control"), "+"+c)
		_ = writeFile(filepath.Join(parent, "cgroup.subtree_control"), "+"+c)
	}
	enabled := fieldsSet(readTrim(filepath.Join(parent, "cgroup.subtree_control")))
	cg = &cgroups{mount: mount, parent: parent, controllers: map[string]bool{}}
	for _, c := range wantControllers {
		switch {
		case enabled[c]:
			cg.controllers[c] = true
		case !available[c]:
			notes = append(notes, fmt.Sprintf("%s limits are not enforced: the %s controller is not in %s/cgroup.controllers (have: %q); on a hybrid cgroup host it is bound to cgroup v1", c, c, mount, readTrim(filepath.Join(mount, "cgroup.controllers"))))
		default:
			notes = append(notes, fmt.Sprintf("%s limits are not enforced: could not enable the %s controller in %s/cgroup.subtree_control", c, c, parent))
		}
	}
	return cg, "", notes
}

// controllerList is the enabled controllers, sorted, comma separated.
func (cg *cgroups) controllerList() string {
	var l []string
	for _, c := range wantControllers {
		if cg.controllers[c] {
			l = append(l, c)
		}
	}
	return strings.Join(l, ",")
}

// taskPath is the cgroup of a task ID: unsafe characters become '_'.
func (cg *cgroups) taskPath(taskID string) string {
	var b strings.Builder
	for _, r := range taskID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 200 {
		name = name[:200]
	}
	return filepath.Join(cg.parent, name)
}

// owns reports whether path is a per-task cgroup of this setup, so a
// corrupted state record cannot make the driver kill or remove another
// cgroup.
func (cg *cgroups) owns(path string) bool {
	return path != "" && filepath.Dir(filepath.Clean(path)) == cg.parent
}

// create makes the task's cgroup and sets its limits. An empty leftover
// cgroup of an earlier run is reused.
func (cg *cgroups) create(taskID string, memoryMB, cpuMHz int) (string, error) {
	path := cg.taskPath(taskID)
	if err := os.Mkdir(path, 0o755); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("exec: create cgroup %s: %w", path, err)
		}
		if procs := readTrim(filepath.Join(path, "cgroup.procs")); procs != "" {
			return "", fmt.Errorf("exec: cgroup %s still has processes (%s) of an earlier run of task %q; stop them first", path, strings.ReplaceAll(procs, "\n", " "), taskID)
		}
	}
	if cg.controllers["memory"] && memoryMB > 0 {
		if err := writeFile(filepath.Join(path, "memory.max"), strconv.FormatInt(int64(memoryMB)<<20, 10)); err != nil {
			cg.remove(path)
			return "", fmt.Errorf("exec: set memory.max of %s: %w", path, err)
		}
	}
	if cg.controllers["cpu"] && cpuMHz > 0 {
		if err := writeFile(filepath.Join(path, "cpu.weight"), strconv.Itoa(cpuWeight(cpuMHz))); err != nil {
			cg.remove(path)
			return "", fmt.Errorf("exec: set cpu.weight of %s: %w", path, err)
		}
	}
	return path, nil
}

// cpuWeight maps CPU shares (one per MHz, as in cgroup v1) to cgroup v2's
// cpu.weight with the conversion runc and systemd use.
func cpuWeight(shares int) int {
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// addProc moves a process into the cgroup.
func addProc(path string, pid int) error {
	return writeFile(filepath.Join(path, "cgroup.procs"), strconv.Itoa(pid))
}

// oomKills returns the oom_kill counter of the cgroup's memory.events.
func oomKills(path string) int64 {
	for _, line := range strings.Split(readTrim(filepath.Join(path, "memory.events")), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// killAll SIGKILLs every process in the cgroup.
func killAll(path string) {
	if writeFile(filepath.Join(path, "cgroup.kill"), "1") == nil {
		return
	}
	for _, f := range strings.Fields(readTrim(filepath.Join(path, "cgroup.procs"))) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = unix.Kill(pid, syscall.SIGKILL)
		}
	}
}

// remove kills what is left in the cgroup and removes it, waiting up to a
// few seconds for the kernel to empty it.
func (cg *cgroups) remove(path string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		killAll(path)
		err := unix.Rmdir(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("exec: remove cgroup %s: %w", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func fieldsSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
