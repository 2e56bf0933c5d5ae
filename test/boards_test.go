package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/boards"
)

// emulatedBoards are run under qemu-user, one per CPU family: ARMv6
// (ARM1176), ARMv7 (Cortex-A7) and arm64.
var emulatedBoards = []string{"rpi-zero", "rpi3", "rpi4"}

// crossAgent builds the agent for a board's target once per test run, with
// the flags of `make cross` (so a prior `make cross` warms the cache).
var crossAgent = struct {
	mu    sync.Mutex // guards built
	built map[string]string
}{built: map[string]string{}}

// agentSizeBudget is the stripped agent's size budget per target, bytes.
const agentSizeBudget = 13_000_000

func buildCrossAgent(t *testing.T, tg boards.Target) string {
	t.Helper()
	crossAgent.mu.Lock()
	defer crossAgent.mu.Unlock()
	if p, ok := crossAgent.built[tg.Suffix()]; ok {
		return p
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(bins.dir, "agent-"+tg.Suffix())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=boards-test", "-o", out, "./cmd/agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+tg.GOOS, "GOARCH="+tg.GOARCH, "GOARM="+tg.GOARM)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross build %s: %v\n%s", tg.Suffix(), err, msg)
	}
	crossAgent.built[tg.Suffix()] = out
	return out
}

func boardJob(board, module string) string {
	return fmt.Sprintf(`job "on-%[1]s" {
  datacenters = ["%[1]s"]
  group "g" {
    network {
      port "http" {}
    }
    task "sh" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo up; while true; do date > $NOMAD_TASK_DIR/alive; sleep 1; done"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
    task "web" {
      driver = "wasm"
      config {
        module = %[2]q
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`, board, module)
}

// Every target a board names (armv6, armv7, arm64, amd64: what `make cross`
// builds) gives a stripped agent within the size budget; the largest,
// amd64, is run by no board test, so it is checked here.
func TestAgentSizeBudgetEveryTarget(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range boards.Names() {
		b, err := boards.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if seen[b.Target.Suffix()] {
			continue
		}
		seen[b.Target.Suffix()] = true
		fi, err := os.Stat(buildCrossAgent(t, b.Target))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("agent-%s: %d bytes", b.Target.Suffix(), fi.Size())
		if fi.Size() > agentSizeBudget {
			t.Errorf("agent for %s is %d bytes; the budget is %d (bench/README.md says what costs the bytes)",
				b.Target.Suffix(), fi.Size(), agentSizeBudget)
		}
	}
	for _, want := range []string{"linux-armv6", "linux-armv7", "linux-arm64", "linux-amd64"} {
		if !seen[want] {
			t.Errorf("no board names the target %s (boards: %v)", want, boards.Names())
		}
	}
}

// Real ARM agents, under qemu-user, booted from their boards' bundles,
// enrol with the bundle's join token at a central on loopback whose broker
// refuses anonymous clients, run an exec task and a wasm guest
// (interpreter on 32-bit ARM) and report both running; the guest answers
// HTTP.
func TestBoardsUnderQemu(t *testing.T) {
	type run struct {
		b     *boards.Board
		qemu  string
		agent string
	}
	var runs []run
	for _, name := range emulatedBoards {
		b, err := boards.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		qemu := requireTool(t, b.Emulator.Binary)
		runs = append(runs, run{b: b, qemu: qemu})
	}
	module := buildWasm(t, "web")
	for i := range runs {
		runs[i].agent = buildCrossAgent(t, runs[i].b.Target)
		// The footprint budget (bench/README.md): a stripped agent with all
		// drivers stays within 13 MB. A new dependency that looks methods
		// up by name at run time brings about 1.65 MB back on amd64 (bench/README.md).
		fi, err := os.Stat(runs[i].agent)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > agentSizeBudget {
			t.Errorf("agent for %s is %d bytes; the budget is %d (see bench/README.md for what costs the bytes)",
				runs[i].b.Target.Suffix(), fi.Size(), agentSizeBudget)
		}
	}

	// Each agent boots from what `central board bundle` wrote for its board
	// (its binary, name, datacenter, broker, central's URL, meta, join
	// token) and enrols with the join token: the broker refuses anonymous
	// clients.
	c, token := startAuthCentral(t)
	for _, r := range runs {
		args := []string{}
		if r.b.Emulator.CPU != "" {
			args = append(args, "-cpu", r.b.Emulator.CPU)
		}
		bundle := bundleBoard(t, c, r.b.Name, r.agent, token)
		args = append(args, bundleBoot(bundle, "-heartbeat", "1s")...)
		p := start(t, "agent "+r.b.Name+" (qemu)", r.qemu, args...)
		c.agents[r.b.Name] = p
		t.Cleanup(func() {
			c.stopAllJobs(20 * time.Second)
			killChildGroups(p.cmd.Process.Pid)
		})
	}
	jobs := t.TempDir()
	for _, r := range runs {
		n := c.waitNode(r.b.Name, "ready", 90*time.Second)
		var detail struct {
			Attributes map[string]string `json:"attributes"`
		}
		if err := c.get("/v1/node/"+n.ID, &detail); err != nil {
			t.Fatal(err)
		}
		a := detail.Attributes
		if a["cpu.arch"] != r.b.Target.GOARCH || a["cpu.arm_version"] != r.b.Target.GOARM ||
			a["driver.wasm.engine"] != r.b.WasmEngine || a["driver.exec"] != "1" || a["tether.version"] != "boards-test" {
			t.Errorf("%s: attributes cpu.arch=%q cpu.arm_version=%q driver.wasm.engine=%q driver.exec=%q tether.version=%q",
				r.b.Name, a["cpu.arch"], a["cpu.arm_version"], a["driver.wasm.engine"], a["driver.exec"], a["tether.version"])
		}
		file := filepath.Join(jobs, r.b.Name+".hcl")
		if err := os.WriteFile(file, []byte(boardJob(r.b.Name, module)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := c.cli("job", "submit", "-detach", file); code != 0 {
			t.Fatalf("submit %s exited %d:\n%s", r.b.Name, code, out)
		}
	}
	for _, r := range runs {
		job := "on-" + r.b.Name
		var url string
		eventually(t, 90*time.Second, func() error {
			as := c.allocs(job)
			if len(as) != 1 || as[0].ClientStatus != "running" {
				return fmt.Errorf("%s allocations: %+v", job, as)
			}
			for _, task := range []string{"sh", "web"} {
				if s := as[0].TaskStates[task].State; s != "running" {
					return fmt.Errorf("%s task %s is %q", job, task, s)
				}
			}
			var a allocPorts
			if err := c.get("/v1/allocation/"+as[0].ID, &a); err != nil {
				return err
			}
			if len(a.Ports) != 1 || a.Ports[0].Value == 0 {
				return fmt.Errorf("no http port: %+v", a)
			}
			url = fmt.Sprintf("http://127.0.0.1:%d/%s", a.Ports[0].Value, r.b.Name)
			return nil
		})
		eventually(t, 30*time.Second, func() error {
			body, err := httpGet(url)
			if err != nil {
				return err
			}
			if !strings.Contains(body, "hello from wasm: /"+r.b.Name) {
				return fmt.Errorf("body %q", body)
			}
			return nil
		})
	}
}

// A bundle for an SD card's root is complete file by file, idempotent,
// refused on a root or a binary of another architecture, and its unit
// passes systemd-analyze verify (required under CI=true, like qemu).
func TestBoardBundleIntoRoot(t *testing.T) {
	b, err := boards.Load("rpi-zero")
	if err != nil {
		t.Fatal(err)
	}
	agent := buildCrossAgent(t, b.Target)
	root := t.TempDir()
	// An armhf root: /bin -> usr/bin, sh -> dash (here: any ARM ELF).
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755)
	copyFile(t, agent, filepath.Join(root, "usr/bin/dash"))
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	os.Symlink("/usr/bin/dash", filepath.Join(root, "usr/bin/sh"))

	bundle := []string{"board", "bundle", "-board", "rpi-zero", "-name", "pi-07", "-datacenter", "dc2",
		"-broker", "tcp://site:1883", "-join-token", "tok-1", "-agent", agent, "-root", root, "-first-boot", "-central", "http://central.example:7600"}
	out, code := runCentral(t, bundle...)
	if code != 0 || !strings.Contains(out, "10 path(s) written, 0 unchanged") {
		t.Fatalf("bundle exited %d:\n%s", code, out)
	}
	want := map[string]string{
		"usr/local/lib/tether-agent/agent":                                    "file 755",
		"usr/local/bin/agent":                                                 "link ../lib/tether-agent/agent",
		"etc/tether/agent.hcl":                                                "file 600",
		"etc/tether/join-token":                                               "file 600",
		"etc/systemd/system/tether-agent.service":                             "file 644",
		"etc/systemd/system/multi-user.target.wants/tether-agent.service":     "link /etc/systemd/system/tether-agent.service",
		"var/lib/tether-agent":                                                "dir 700",
		"usr/local/lib/tether/firstboot.sh":                                   "file 755",
		"etc/systemd/system/tether-firstboot.service":                         "file 644",
		"etc/systemd/system/multi-user.target.wants/tether-firstboot.service": "link /etc/systemd/system/tether-firstboot.service",
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, p)
		fi, err := os.Lstat(full)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		var got string
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(full)
			got = "link " + l
		case fi.IsDir():
			got = fmt.Sprintf("dir %o", fi.Mode().Perm())
		default:
			got = fmt.Sprintf("file %o", fi.Mode().Perm())
		}
		if got != want[p] {
			t.Errorf("%s: %s, want %s", p, got, want[p])
		}
	}
	if a, b := readFile(t, agent), readFile(t, filepath.Join(root, "usr/local/lib/tether-agent/agent")); a != b {
		t.Error("usr/local/lib/tether-agent/agent differs from the armv6 agent")
	}
	if readFile(t, filepath.Join(root, "etc/systemd/system/tether-agent.service")) != string(b.Unit) {
		t.Error("unit differs from boards/rpi-zero")
	}
	cfg := readFile(t, filepath.Join(root, "etc/tether/agent.hcl"))
	for _, s := range []string{`name       = "pi-07"`, `datacenter = "dc2"`, `brokers    = ["tcp://site:1883"]`, `join_token_file = "/etc/tether/join-token"`, `central    = "http://central.example:7600"`, `"board" = "rpi-zero"`} {
		if !strings.Contains(cfg, s) {
			t.Errorf("agent.hcl lacks %s:\n%s", s, cfg)
		}
	}
	// The armv6 agent itself accepts the config, under qemu.
	qemu := requireTool(t, b.Emulator.Binary)
	cmd := exec.Command(qemu, "-cpu", b.Emulator.CPU, agent, "-config", filepath.Join(root, "etc/tether/agent.hcl"), "-data-dir", t.TempDir(), "-version")
	if msg, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(msg), "agent boards-test") {
		t.Errorf("armv6 agent -version with the bundle's config: %v\n%s", err, msg)
	}

	out, code = runCentral(t, bundle...)
	if code != 0 || !strings.Contains(out, "0 path(s) written, 10 unchanged") {
		t.Fatalf("second bundle exited %d:\n%s", code, out)
	}

	// Refusals: an arm64 board on this armhf root; an armv7 binary for a Pi Zero.
	b64, _ := boards.Load("rpi4")
	wrong := append([]string{}, bundle...)
	wrong[3], wrong[13] = "rpi4", buildCrossAgent(t, b64.Target)
	if out, code := runCentral(t, wrong...); code == 0 || !strings.Contains(out, "holds an OS for arm (/usr/bin/dash) but board rpi4 needs arm64") {
		t.Errorf("rpi4 bundle into an armhf root: exit %d\n%s", code, out)
	}
	b7, _ := boards.Load("rpi3")
	armv7 := buildCrossAgent(t, b7.Target)
	v7 := append([]string{}, bundle...)
	v7[13] = armv7
	if out, code := runCentral(t, v7...); code == 0 || !strings.Contains(out, "built for armv7, which does not run on the board's armv6 CPU") {
		t.Errorf("armv7 binary for rpi-zero: exit %d\n%s", code, out)
	}
	if out, code := runCentral(t, append(wrong, "-force")...); code != 0 {
		t.Errorf("-force: exit %d\n%s", code, out)
	}

	// systemd-analyze verify needs the ExecStart binary on this machine: verify
	// a copy of the unit that points into the bundle.
	sa := requireTool(t, "systemd-analyze")
	unit := strings.ReplaceAll(string(b.Unit), "ExecStart=/usr/local/lib/tether-agent/agent", "ExecStart="+filepath.Join(root, "usr/local/lib/tether-agent/agent"))
	if unit == string(b.Unit) || !strings.Contains(unit, "\nReadWritePaths=/usr/local/lib/tether-agent\n") {
		t.Errorf("the unit does not run the bundle's binary with its directory writable:\n%s", b.Unit)
	}
	p := filepath.Join(t.TempDir(), "tether-agent.service")
	os.WriteFile(p, []byte(unit), 0o644)
	if msg, err := exec.Command(sa, "verify", "--man=no", p).CombinedOutput(); err != nil || strings.Contains(string(msg), "tether-agent.service:") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, msg)
	}
}

// bundleBoard runs `central board bundle -out` for board, with a join
// token and central's URL, and returns the tree's directory.
func bundleBoard(t *testing.T, c *cluster, board, agent, token string) string {
	t.Helper()
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "site.token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCentral(t, "board", "bundle", "-board", board, "-name", board, "-datacenter", board,
		"-broker", c.broker, "-central", "http://"+c.http, "-join-token-file", tokFile, "-agent", agent, "-out", dir)
	if code != 0 {
		t.Fatalf("board bundle %s exited %d:\n%s", board, code, out)
	}
	return dir
}

// bundleBoot is the command line that boots a bundle's agent here: its
// binary and config, with only the device's absolute paths (data dir,
// join token file) moved into the bundle, and extra flags.
func bundleBoot(dir string, extra ...string) []string {
	return append([]string{filepath.Join(dir, "usr/local/lib/tether-agent/agent"), "-config", filepath.Join(dir, "etc/tether/agent.hcl"),
		"-data-dir", filepath.Join(dir, "var/lib/tether-agent"), "-join-token-file", filepath.Join(dir, "etc/tether/join-token")}, extra...)
}

// Provisioning end to end on this machine's architecture: a bundle for the
// x86-64 gateway holds everything its first boot needs; the agent booted
// from it enrols at central with the join token (anonymous MQTT clients
// are refused) and runs a job.
func TestBoardBundleBootsEnrolsAndRunsAJob(t *testing.T) {
	c, token := startAuthCentral(t)
	dir := bundleBoard(t, c, "x86-gateway", bins.agent, token)
	cfg := readFile(t, filepath.Join(dir, "etc/tether/agent.hcl"))
	for _, s := range []string{`central    = "http://` + c.http + `"`, `join_token_file = "/etc/tether/join-token"`, `brokers    = ["` + c.broker + `"]`} {
		if !strings.Contains(cfg, s) {
			t.Fatalf("agent.hcl lacks %s:\n%s", s, cfg)
		}
	}
	p := start(t, "agent x86-gateway (bundle)", bundleBoot(dir)[0], append(bundleBoot(dir)[1:], "-heartbeat", "1s", "-advertise", "127.0.0.1")...)
	c.agents["x86-gateway"] = p
	t.Cleanup(func() {
		c.stopAllJobs(10 * time.Second)
		killChildGroups(p.cmd.Process.Pid)
	})
	n := c.waitNode("x86-gateway", "ready", 30*time.Second)
	if _, err := os.Stat(filepath.Join(dir, "var/lib/tether-agent/enrolment.json")); err != nil {
		t.Fatalf("node %s is ready but did not enrol: %v", n.ID, err)
	}
	job := filepath.Join(t.TempDir(), "first.hcl")
	os.WriteFile(job, []byte(`job "first" {
  datacenters = ["x86-gateway"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 3600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`), 0o644)
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	c.waitRunning("first", 1, 30*time.Second)
}

func runCentral(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bins.central, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, []byte(readFile(t, from)), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
