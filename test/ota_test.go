package test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/upgrade"
)

// Over-the-air agent upgrades end to end (docs/upgrades.md): a real
// central with an authenticating embedded broker, real agents enrolled
// with a join token (so they pin central's signing key), each started
// plainly (no supervisor) from its own copy of the binary, each running
// a long exec task; releases and rollouts through the CLI.

// otaTarget is a build target and how its agents run here.
type otaTarget struct {
	goarch, goarm string
	emu           []string // qemu-user command, nil natively
}

func (tg otaTarget) suffix() string {
	if tg.goarch == "arm" {
		return "armv" + tg.goarm
	}
	return tg.goarch
}

// otaBuilds caches the binaries built for this run, by target and version.
var otaBuilds = struct {
	mu    sync.Mutex
	built map[string]string
}{built: map[string]string{}}

// buildAgentVersion builds the agent for tg with -X main.version=version.
func buildAgentVersion(t *testing.T, tg otaTarget, version string) string {
	t.Helper()
	return otaBuild(t, tg, version, func(out string) *exec.Cmd {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, "./cmd/agent")
		cmd.Dir = root
		return cmd
	})
}

// Programs for buildFakeAgent (main.version is set at build time).
const (
	exitsAtOnce = `package main

import "os"

var version = "dev"

func main() {
	os.Stderr.WriteString("agent " + version + ": broken on purpose, exiting\n")
	os.Exit(1)
}
`
	hangs = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	os.Stderr.WriteString("agent " + version + ": hangs on purpose, never connects\n")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop // until the watchdog stops it
	os.Exit(1)
}
`
)

// buildFakeAgent builds program (exitsAtOnce, hangs) as a binary that
// carries the agent's Go build info (its main package is
// the agent's path), so that central takes it as a release of version.
func buildFakeAgent(t *testing.T, tg otaTarget, version, program string) string {
	t.Helper()
	return otaBuild(t, tg, version+"-fake", func(out string) *exec.Cmd {
		mod := t.TempDir()
		os.MkdirAll(filepath.Join(mod, "cmd", "agent"), 0o755)
		os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module github.com/tether-edge/tether\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(mod, "cmd", "agent", "main.go"), []byte(program), 0o644)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, "./cmd/agent")
		cmd.Dir = mod
		cmd.Env = []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
		return cmd
	})
}

func otaBuild(t *testing.T, tg otaTarget, key string, build func(out string) *exec.Cmd) string {
	otaBuilds.mu.Lock()
	defer otaBuilds.mu.Unlock()
	id := tg.suffix() + "-" + key
	if p, ok := otaBuilds.built[id]; ok {
		return p
	}
	out := filepath.Join(bins.dir, "ota-agent-"+id)
	cmd := build(out)
	cmd.Env = append(append(os.Environ(), cmd.Env...), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+tg.goarch, "GOARM="+tg.goarm)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", id, err, msg)
	}
	otaBuilds.built[id] = out
	return out
}

// otaAgent is one agent of the test: its binary and data dir, and the
// process the test started (the same PID after an upgrade in place).
type otaAgent struct {
	name, exe, dataDir string
	p                  *proc
}

// taskPID is the PID the agent's exec task wrote at its start.
func (a *otaAgent) taskPID(t *testing.T) int {
	t.Helper()
	pid, err := a.readTaskPID()
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func (a *otaAgent) readTaskPID() (int, error) {
	files, _ := filepath.Glob(filepath.Join(a.dataDir, "allocs", "*", "sleep", "local", "pid"))
	if len(files) != 1 {
		return 0, fmt.Errorf("%s: %d task pid files, want 1", a.name, len(files))
	}
	b, _ := os.ReadFile(files[0])
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: task pid file %q", a.name, b)
	}
	return pid, nil
}

func (a *otaAgent) state(t *testing.T) *upgrade.State {
	s, err := upgrade.LoadState(upgrade.StatePath(filepath.Join(a.dataDir, "upgrade")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runningPID is the agent's PID now: the one the test started, or the one
// the watchdog started after a rollback.
func (a *otaAgent) runningPID(t *testing.T) int {
	if !a.p.exited() {
		return a.p.cmd.Process.Pid
	}
	if s := a.state(t); s != nil && s.Restarted != 0 {
		return s.Restarted
	}
	return 0
}

// exeOf is the binary process pid runs.
func exeOf(pid int) string {
	p, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return p
}

// killByArg kills every process whose command line has arg in it, and
// the process groups of its children.
func killByArg(arg string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(arg)) {
			killChildGroups(pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

type otaRollout struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Desc   string `json:"status_description"`
	Order  []string
	Nodes  map[string]*struct {
		Name   string `json:"name"`
		Canary bool   `json:"canary"`
		Status string `json:"status"`
	} `json:"nodes"`
}

type otaNode struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Status        string `json:"status"`
	Version       string `json:"version"`
	UpgradeFailed *struct {
		Version    string `json:"version"`
		Reason     string `json:"reason"`
		RolloutID  string `json:"rollout_id"`
		RolledBack bool   `json:"rolled_back"`
	} `json:"upgrade_failed"`
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

const otaJob = `job "ota-sleep" {
  datacenters = ["dc1"]
  type = "system"
  group "g" {
    task "sleep" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo $$ > $NOMAD_TASK_DIR/pid; exec sleep 100000"]
      }
    }
  }
}
`

// runOTA runs the whole scenario with n agents of target tg.
func runOTA(t *testing.T, tg otaTarget, n int, more bool) {
	const vA, vB, vC, vD, vE = "0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0"
	binA, binB := buildAgentVersion(t, tg, vA), buildAgentVersion(t, tg, vB)
	binC := buildFakeAgent(t, tg, vC, exitsAtOnce)
	c, token := startAuthCentral(t)
	tokFile := filepath.Join(c.dir, "join-token")
	os.WriteFile(tokFile, []byte(token), 0o600)

	var env []string
	if len(tg.emu) > 0 {
		env = append(env, upgrade.EnvEmulator+"="+strings.Join(tg.emu, " "))
	}
	agents := map[string]*otaAgent{}
	var agentNames []string
	for i := range n {
		a := &otaAgent{name: fmt.Sprintf("ota-%s-%d", tg.suffix(), i), dataDir: filepath.Join(c.dir, fmt.Sprintf("data-%d", i))}
		a.exe = filepath.Join(c.dir, fmt.Sprintf("bin-%d", i), "agent")
		os.MkdirAll(filepath.Dir(a.exe), 0o755)
		if b, err := os.ReadFile(binA); err != nil || os.WriteFile(a.exe, b, 0o755) != nil {
			t.Fatal(err)
		}
		args := []string{a.exe, "-name", a.name, "-datacenter", "dc1", "-broker", c.broker, "-central", "http://" + c.http,
			"-join-token-file", tokFile, "-data-dir", a.dataDir, "-heartbeat", "1s", "-advertise", "127.0.0.1"}
		if len(tg.emu) > 0 {
			args = append(append([]string{}, tg.emu...), args...)
		}
		// The agent writes to a file, not to the test's pipe: the watchdog
		// and an agent it starts after a rollback inherit the output and
		// outlive the process the test started (a Go program writing to a
		// pipe nobody reads dies of SIGPIPE).
		logFile := filepath.Join(c.dir, a.name+".log")
		cmd := exec.Command("/bin/sh", append([]string{"-c", `exec "$@" >>"$AGENT_LOG" 2>&1`, "sh"}, args...)...)
		cmd.Env = append(append(os.Environ(), env...), "AGENT_LOG="+logFile)
		a.p = startCmd(t, "agent "+a.name, cmd)
		agents[a.name] = a
		agentNames = append(agentNames, a.name)
		t.Cleanup(func() {
			if t.Failed() {
				b, _ := os.ReadFile(logFile)
				t.Logf("---- log of agent %s ----\n%s", a.name, b)
			}
		})
		// Runs before the proc's own cleanup: stop the jobs, then whatever
		// agent runs now (a rollback starts a new process) and the tasks.
		t.Cleanup(func() {
			c.stopAllJobs(20 * time.Second)
			killChildGroups(a.p.cmd.Process.Pid)
			killByArg(a.dataDir) // an agent or watchdog started after a rollback
		})
	}
	for name := range agents {
		c.waitNode(name, "ready", 120*time.Second)
	}
	jobFile := filepath.Join(c.dir, "ota-sleep.hcl")
	os.WriteFile(jobFile, []byte(otaJob), 0o644)
	if out, code := c.cli("job", "submit", "-detach", jobFile); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	c.waitRunning("ota-sleep", n, 120*time.Second)
	taskPIDs, agentPIDs := map[string]int{}, map[string]int{}
	for name, a := range agents {
		eventually(t, 30*time.Second, func() error {
			_, err := a.readTaskPID() // written by the task as it starts
			return err
		})
		taskPIDs[name], agentPIDs[name] = a.taskPID(t), a.p.cmd.Process.Pid
	}
	nodes := func() map[string]otaNode {
		var list []otaNode
		if err := c.get("/v1/nodes", &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]otaNode{}
		for _, n := range list {
			var full otaNode
			if err := c.get("/v1/node/"+n.ID, &full); err != nil {
				t.Fatal(err)
			}
			out[n.Name] = full
		}
		return out
	}
	rollout := func(want string, timeout time.Duration) otaRollout {
		t.Helper()
		var ro otaRollout
		eventually(t, timeout, func() error {
			if err := c.get("/v1/agent/rollout/latest", &ro); err != nil {
				return err
			}
			if ro.Status != want {
				return fmt.Errorf("rollout %s: %s (%s), want %s", ro.ID, ro.Status, ro.Desc, want)
			}
			return nil
		})
		return ro
	}
	// Wait: a rollout cannot start before every node says it can upgrade.
	eventually(t, 60*time.Second, func() error {
		for name, n := range nodes() {
			if n.Version != vA || n.Status != "ready" {
				return fmt.Errorf("%s: version %q, status %s", name, n.Version, n.Status)
			}
		}
		return nil
	})

	// A to B: every node upgrades in place; no task restarts.
	if out, code := c.cli("agent", "release", "add", "-version", vB, binB); code != 0 {
		t.Fatalf("release add %s exited %d:\n%s", vB, code, out)
	}
	if out, code := c.cli("agent", "rollout", "start", "-version", vB, "-canary", "1", "-max-parallel", "2", "-health-window", "60s"); code != 0 {
		t.Fatalf("rollout start %s exited %d:\n%s", vB, code, out)
	}
	start := time.Now()
	rollout("complete", time.Duration(n)*90*time.Second)
	t.Logf("%s: rollout of %d agents to %s complete in %s", tg.suffix(), n, vB, time.Since(start).Round(time.Millisecond))
	sumB := sha256File(t, binB)
	for name, node := range nodes() {
		a := agents[name]
		if node.Version != vB {
			t.Errorf("%s runs %q after the rollout, want %s", name, node.Version, vB)
		}
		if a.p.exited() {
			t.Errorf("%s: the agent process %d exited (an upgrade in place keeps the PID): %v", name, agentPIDs[name], a.p.err)
		}
		if got := a.taskPID(t); got != taskPIDs[name] || !pidAlive(got) {
			t.Errorf("%s: task PID %d after the upgrade, was %d (alive %v)", name, got, taskPIDs[name], pidAlive(got))
		}
		if sha256File(t, a.exe) != sumB {
			t.Errorf("%s: %s is not the %s binary", name, a.exe, vB)
		}
		if s := a.state(t); s == nil || s.Phase != upgrade.PhaseHealthy {
			t.Errorf("%s: upgrade state %+v, want healthy", name, s)
		}
		// One binary downloaded, no more.
		log, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
		m := regexp.MustCompile(`downloaded and verified.*version=` + regexp.QuoteMeta(vB) + ` bytes_downloaded=(\d+)`).FindSubmatch(log)
		if st, _ := os.Stat(binB); m == nil || string(m[1]) != strconv.FormatInt(st.Size(), 10) {
			t.Errorf("%s: downloaded %q bytes, the binary has %d", name, m, st.Size())
		} else if name == agentNames[0] {
			t.Logf("%s: each agent downloaded %s bytes: the binary once", tg.suffix(), m[1])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// B to a broken C: the canary rolls back to B by itself within the
	// health window; the rollout fails; no other node tried C.
	const window = 10 * time.Second
	if out, code := c.cli("agent", "release", "add", "-version", vC, binC); code != 0 {
		t.Fatalf("release add %s exited %d:\n%s", vC, code, out)
	}
	if out, code := c.cli("agent", "rollout", "start", "-version", vC, "-canary", "1", "-max-parallel", "2", "-health-window", window.String()); code != 0 {
		t.Fatalf("rollout start %s exited %d:\n%s", vC, code, out)
	}
	start = time.Now()
	ro := rollout("failed", window+90*time.Second)
	var canary string
	for _, rn := range ro.Nodes {
		if rn.Canary {
			canary = rn.Name
		}
	}
	var rolledBack time.Duration
	eventually(t, window+60*time.Second, func() error {
		n := nodes()[canary]
		if n.UpgradeFailed == nil || n.UpgradeFailed.Version != vC || n.Version != vB || n.Status != "ready" {
			return fmt.Errorf("canary %s: version %q, status %s, upgrade failure %+v", canary, n.Version, n.Status, n.UpgradeFailed)
		}
		rolledBack = time.Since(start)
		return nil
	})
	t.Logf("%s: broken %s rolled back on canary %s, back on %s and reported %s after the rollout started (health window %s)",
		tg.suffix(), vC, canary, vB, rolledBack.Round(time.Millisecond), window)
	for name, node := range nodes() {
		a := agents[name]
		if got := a.taskPID(t); got != taskPIDs[name] || !pidAlive(got) {
			t.Errorf("%s: task PID %d after the failed upgrade, was %d (alive %v)", name, got, taskPIDs[name], pidAlive(got))
		}
		if sha256File(t, a.exe) != sumB {
			t.Errorf("%s: %s is not the %s binary after the rollback", name, a.exe, vB)
		}
		if name == canary {
			if s := a.state(t); s == nil || s.Phase != upgrade.PhaseRolledBack || s.Failure == nil || !s.Failure.RolledBack {
				t.Errorf("canary %s: upgrade state %+v", name, s)
			}
			continue
		}
		tried, _ := filepath.Glob(filepath.Join(a.dataDir, "upgrade", "agent-"+vC+"-*"))
		if node.UpgradeFailed != nil || len(tried) > 0 || a.p.exited() {
			t.Errorf("%s (not the canary) tried %s: failure %+v, downloads %v, exited %v", name, vC, node.UpgradeFailed, tried, a.p.exited())
		}
	}
	if t.Failed() || !more {
		return
	}

	// A tampered binary (the file at the release's URL is not the one
	// central signed) is refused before it runs.
	binD := buildAgentVersion(t, tg, vD)
	good, _ := os.ReadFile(binD)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0xff
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "agent", time.Time{}, bytes.NewReader(bad))
	}))
	defer srv.Close()
	if out, code := c.cli("agent", "release", "add", "-version", vD, "-url", srv.URL+"/agent", binD); code != 0 {
		t.Fatalf("release add %s exited %d:\n%s", vD, code, out)
	}
	pidsBefore := map[string]int{}
	for name, a := range agents {
		pidsBefore[name] = a.runningPID(t)
	}
	if out, code := c.cli("agent", "rollout", "start", "-version", vD, "-canary", "1", "-max-parallel", "2", "-health-window", "30s"); code != 0 {
		t.Fatalf("rollout start %s exited %d:\n%s", vD, code, out)
	}
	ro = rollout("failed", 120*time.Second)
	for _, rn := range ro.Nodes {
		if rn.Canary {
			canary = rn.Name
		}
	}
	eventually(t, 60*time.Second, func() error {
		n := nodes()[canary]
		if n.UpgradeFailed == nil || n.UpgradeFailed.Version != vD || !strings.Contains(n.UpgradeFailed.Reason, "SHA-256") {
			return fmt.Errorf("canary %s: upgrade failure %+v", canary, n.UpgradeFailed)
		}
		if n.UpgradeFailed.RolledBack {
			return fmt.Errorf("the tampered binary ran: %+v", n.UpgradeFailed)
		}
		return nil
	})
	a := agents[canary]
	if pid := pidsBefore[canary]; !pidAlive(pid) || exeOf(pid) != a.exe {
		t.Errorf("canary %s: agent PID %d alive %v, running %q: it exec'd something", canary, pid, pidAlive(pid), exeOf(pid))
	}
	if sha256File(t, a.exe) != sumB {
		t.Errorf("canary %s: its binary changed", canary)
	}
	if left, _ := filepath.Glob(filepath.Join(a.dataDir, "upgrade", "agent-"+vD+"-*")); len(left) > 0 {
		t.Errorf("the tampered download was kept: %v", left)
	}
	if t.Failed() {
		return
	}

	// A new agent that starts but never becomes healthy (it hangs: no
	// broker, no state) is stopped and rolled back when the health window
	// ends.
	binE := buildFakeAgent(t, tg, vE, hangs)
	if out, code := c.cli("agent", "release", "add", "-version", vE, binE); code != 0 {
		t.Fatalf("release add %s exited %d:\n%s", vE, code, out)
	}
	const short = 5 * time.Second
	if out, code := c.cli("agent", "rollout", "start", "-version", vE, "-canary", "1", "-max-parallel", "2", "-health-window", short.String()); code != 0 {
		t.Fatalf("rollout start %s exited %d:\n%s", vE, code, out)
	}
	start = time.Now()
	ro = rollout("failed", 120*time.Second)
	for _, rn := range ro.Nodes {
		if rn.Canary {
			canary = rn.Name
		}
	}
	eventually(t, short+60*time.Second, func() error {
		n := nodes()[canary]
		if n.UpgradeFailed == nil || n.UpgradeFailed.Version != vE || !n.UpgradeFailed.RolledBack || n.Version != vB || n.Status != "ready" {
			return fmt.Errorf("canary %s: version %q, status %s, upgrade failure %+v", canary, n.Version, n.Status, n.UpgradeFailed)
		}
		if !strings.Contains(n.UpgradeFailed.Reason, "health window") {
			return fmt.Errorf("reason %q", n.UpgradeFailed.Reason)
		}
		rolledBack = time.Since(start)
		return nil
	})
	t.Logf("%s: hanging %s rolled back on canary %s after %s (health window %s)", tg.suffix(), vE, canary, rolledBack.Round(time.Millisecond), short)
	if got := agents[canary].taskPID(t); got != taskPIDs[canary] || !pidAlive(got) {
		t.Errorf("%s: task PID %d after the rollback, was %d", canary, got, taskPIDs[canary])
	}
}

// TestOTARolloutAMD64: six agents on A, rollout to B (same PIDs), to a
// broken C (the canary rolls back by itself), to a tampered D (refused),
// to an E that hangs (rolled back when the health window ends).
func TestOTARolloutAMD64(t *testing.T) {
	runOTA(t, otaTarget{goarch: "amd64"}, 6, true)
}

// TestOTARolloutARMUnderQemu: the same on 6 arm64 and 6 armv6 agents
// under qemu-user (TETHER_AGENT_EMULATOR: the re-exec and the watchdog go
// through qemu, this host having no binfmt_misc).
func TestOTARolloutARMUnderQemu(t *testing.T) {
	for _, tg := range []otaTarget{
		{goarch: "arm64", emu: []string{requireTool(t, "qemu-aarch64-static", "qemu-aarch64")}},
		{goarch: "arm", goarm: "6", emu: []string{requireTool(t, "qemu-arm-static", "qemu-arm"), "-cpu", "arm1176"}},
	} {
		t.Run(tg.suffix(), func(t *testing.T) { runOTA(t, tg, 6, false) })
	}
}
