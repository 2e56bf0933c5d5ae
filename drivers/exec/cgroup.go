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

// DefaultCgroupV1Root is where a hybrid host mounts its cgroup v1
// hierarchies, one directory per controller (memory, cpu, ...).
const DefaultCgroupV1Root = "/sys/fs/cgroup"

// cgroups is the driver's cgroup setup, found once. It is immutable.
//
// The per-task cgroup always lives in the cgroup2 hierarchy: it holds the
// task's processes from birth (CLONE_INTO_CGROUP), so killing and counting
// them never races a fork. On a hybrid host, whose memory and cpu
// controllers are bound to cgroup v1 (Raspberry Pi OS before Bookworm,
// Debian hosts without systemd), the limits are set in a v1 cgroup of the
// same name per controller, and the task's processes are moved there too.
type cgroups struct {
	mount       string            // the cgroup2 mount point
	parent      string            // <mount>/<parent name>: per-task cgroups live below
	controllers map[string]bool   // limits enforced for the per-task cgroups: "memory", "cpu"
	v1          map[string]string // controller -> <v1 root>/<controller>/<parent name>, for those enforced through cgroup v1
}

// wantControllers are the controllers the driver sets limits with.
var wantControllers = []string{"cpu", "memory"}

// detectCgroups finds a writable cgroup2 hierarchy and prepares the parent
// cgroup. It returns nil and the reason when there is none; notes lists
// limits that cannot be enforced.
func detectCgroups(mounts []string, v1Root, parentName string) (cg *cgroups, reason string, notes []string) {
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
	cg = &cgroups{mount: mount, parent: parent, controllers: map[string]bool{}, v1: map[string]string{}}
	for _, c := range wantControllers {
		switch {
		case enabled[c]:
			cg.controllers[c] = true
		case !available[c]:
			dir, why := detectV1(v1Root, c, parentName)
			if why != "" {
				notes = append(notes, fmt.Sprintf("%s limits are not enforced: the %s controller is not in %s/cgroup.controllers (have: %q), and %s", c, c, mount, readTrim(filepath.Join(mount, "cgroup.controllers")), why))
				continue
			}
			cg.controllers[c] = true
			cg.v1[c] = dir
		default:
			notes = append(notes, fmt.Sprintf("%s limits are not enforced: could not enable the %s controller in %s/cgroup.subtree_control", c, c, parent))
		}
	}
	return cg, "", notes
}

// v1Files are the files a cgroup v1 hierarchy of each controller has.
var v1Files = map[string]string{"memory": "memory.limit_in_bytes", "cpu": "cpu.shares"}

// detectV1 finds controller c's cgroup v1 hierarchy under root and makes
// the parent cgroup there. It returns the parent's path, or why not.
func detectV1(root, c, parentName string) (dir, why string) {
	mount := filepath.Join(root, c)
	var fs unix.Statfs_t
	if err := unix.Statfs(mount, &fs); err != nil || fs.Type != unix.CGROUP_SUPER_MAGIC {
		return "", fmt.Sprintf("no cgroup v1 %s hierarchy is mounted at %s", c, mount)
	}
	if _, err := os.Stat(filepath.Join(mount, v1Files[c])); err != nil {
		return "", fmt.Sprintf("the cgroup v1 hierarchy at %s has no %s", mount, v1Files[c])
	}
	dir = filepath.Join(mount, parentName)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Sprintf("the cgroup v1 hierarchy at %s is not writable (%v)", mount, err)
	}
	probe := filepath.Join(dir, ".probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return "", fmt.Sprintf("cannot create cgroups under %s (%v)", dir, err)
	}
	_ = os.Remove(probe)
	return dir, ""
}

// controllerList is the enforced controllers, sorted, comma separated.
func (cg *cgroups) controllerList() string {
	return cg.list(func(c string) bool { return cg.controllers[c] })
}

// v1List is the controllers enforced through cgroup v1.
func (cg *cgroups) v1List() string { return cg.list(func(c string) bool { return cg.v1[c] != "" }) }

func (cg *cgroups) list(keep func(string) bool) string {
	var l []string
	for _, c := range wantControllers {
		if keep(c) {
			l = append(l, c)
		}
	}
	return strings.Join(l, ",")
}

// v1Path is the v1 cgroup of controller c that matches the task cgroup
// path (a path of this setup), or "" when c is not enforced through v1.
func (cg *cgroups) v1Path(c, path string) string {
	if cg.v1[c] == "" || path == "" {
		return ""
	}
	return filepath.Join(cg.v1[c], filepath.Base(path))
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
	for _, c := range wantControllers {
		if dir := cg.v1Path(c, path); dir != "" {
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				cg.remove(path)
				return "", fmt.Errorf("exec: create cgroup %s: %w", dir, err)
			}
		}
	}
	set := func(c, file, value string) error {
		dir := path
		if v1 := cg.v1Path(c, path); v1 != "" {
			dir = v1
		}
		if err := writeFile(filepath.Join(dir, file), value); err != nil {
			cg.remove(path)
			return fmt.Errorf("exec: set %s of %s: %w", file, dir, err)
		}
		return nil
	}
	if cg.controllers["memory"] && memoryMB > 0 {
		file := "memory.max"
		if cg.v1["memory"] != "" {
			file = "memory.limit_in_bytes"
		}
		if err := set("memory", file, strconv.FormatInt(int64(memoryMB)<<20, 10)); err != nil {
			return "", err
		}
	}
	if cg.controllers["cpu"] && cpuMHz > 0 {
		file, value := "cpu.weight", strconv.Itoa(cpuWeight(cpuMHz))
		if cg.v1["cpu"] != "" {
			file, value = "cpu.shares", strconv.Itoa(clampShares(cpuMHz))
		}
		if err := set("cpu", file, value); err != nil {
			return "", err
		}
	}
	return path, nil
}

// joinV1 moves every process of the task's cgroup2 cgroup into its v1
// cgroups. The cgroup2 cgroup holds the task from birth, so a child forked
// before the move is listed there and moved too; the sweep repeats until
// a pass moves nothing new.
func (cg *cgroups) joinV1(path string) error {
	if len(cg.v1) == 0 {
		return nil
	}
	moved := map[string]bool{}
	for pass := 0; pass < 100; pass++ {
		fresh := false
		for _, pid := range strings.Fields(readTrim(filepath.Join(path, "cgroup.procs"))) {
			if moved[pid] {
				continue
			}
			fresh = true
			moved[pid] = true
			for _, c := range wantControllers {
				if dir := cg.v1Path(c, path); dir != "" {
					if err := writeFile(filepath.Join(dir, "cgroup.procs"), pid); err != nil && !errors.Is(err, unix.ESRCH) {
						return fmt.Errorf("exec: move pid %s into %s: %w", pid, dir, err)
					}
				}
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("exec: the task in %s forks faster than it can be moved into its cgroup v1 limits", path)
}

// clampShares bounds cgroup v1 cpu.shares (one per MHz) to what the
// kernel accepts.
func clampShares(shares int) int { return min(max(shares, 2), 262144) }

// cpuWeight maps CPU shares (one per MHz, as in cgroup v1) to cgroup v2's
// cpu.weight with the conversion runc and systemd use.
func cpuWeight(shares int) int {
	return 1 + ((clampShares(shares)-2)*9999)/262142
}

// addProc moves a process into the cgroup.
func addProc(path string, pid int) error {
	return writeFile(filepath.Join(path, "cgroup.procs"), strconv.Itoa(pid))
}

// oomKills returns the task's OOM kill count: the oom_kill counter of the
// cgroup's memory.events, or of memory.oom_control in its v1 cgroup.
func (cg *cgroups) oomKills(path string) int64 {
	file := filepath.Join(path, "memory.events")
	if v1 := cg.v1Path("memory", path); v1 != "" {
		file = filepath.Join(v1, "memory.oom_control")
	}
	for _, line := range strings.Split(readTrim(file), "\n") {
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
	dirs := []string{path}
	for _, c := range wantControllers {
		if v1 := cg.v1Path(c, path); v1 != "" {
			dirs = append(dirs, v1)
		}
	}
	for _, dir := range dirs {
		for {
			killAll(path)
			err := unix.Rmdir(dir)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("exec: remove cgroup %s: %w", dir, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
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
