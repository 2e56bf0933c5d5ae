package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// Binaries built once by TestMain.
var bins struct {
	dir     string
	central string
	agent   string
}

// buildBinaries builds bin/central and bin/agent into dir.
func buildBinaries(dir string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	for _, b := range []string{"central", "agent"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b), "./cmd/"+b)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b, err, out)
		}
	}
	bins.dir, bins.central, bins.agent = dir, filepath.Join(dir, "central"), filepath.Join(dir, "agent")
	return nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago and that no
// earlier call in this test binary returned. It picks below the kernel's
// ephemeral range (32768 and up on Linux), so the outgoing connections of
// every process on the machine (agents dialling brokers, servers dialling
// each other) cannot take it between this check and the process that
// binds it; asking the kernel for port 0 would hand out exactly those, and
// could hand the same one out twice in a row.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(32768-20000)
		if portsGiven[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // in use
		}
		l.Close()
		portsGiven[p] = true
		return p
	}
	t.Fatal("no free loopback port below the ephemeral range after 1000 tries")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// requireTool returns the path of a tool a real-component test needs. Under
// CI=true a missing tool fails the test; elsewhere it skips it.
func requireTool(t testing.TB, name string, alt ...string) string {
	t.Helper()
	for _, n := range append([]string{name}, alt...) {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	testhost.Require(t, false, name, "install it; .ci/run does")
	return ""
}

// proc is a started process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t testing.TB, name string, bin string, args ...string) *proc {
	t.Helper()
	return startEnv(t, name, nil, bin, args...)
}

// startEnv is start with extra environment variables (KEY=VALUE).
func startEnv(t testing.TB, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	return startCmd(t, name, cmd)
}

// startCmd starts cmd (not yet started) as a proc: its output is kept,
// it leads its own process group, and t.Cleanup stops it.
func startCmd(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", name, p.out.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop signals the process and waits for it, killing it after 10s.
func (p *proc) stop(sig syscall.Signal) {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cluster is a running central plus its agents.
type cluster struct {
	t       testing.TB
	dir     string
	http    string
	broker  string
	central *proc
	agents  map[string]*proc
	// centralArgs start central again after a restart.
	centralArgs []string
	// agentEnv is added to every agent's environment (e.g. CONTAINER_HOST).
	agentEnv []string
	// token, when set, is sent with every API call and CLI run (ACLs on).
	token string
}

type clusterOpts struct {
	broker string // external broker URL; empty runs the embedded one
	// mqttHost is the address the embedded broker listens on (default
	// 127.0.0.1), e.g. the host end of a test network namespace's veth.
	mqttHost string
	ttl      string // heartbeat TTL
	acl      bool   // start central with -acl
}

func startCentral(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	if o.ttl != "" {
		args = append(args, "-heartbeat-ttl", o.ttl, "-heartbeat-grace", "1s")
	}
	if o.acl {
		args = append(args, "-acl")
	}
	if o.broker != "" {
		c.broker = o.broker
		args = append(args, "-broker", o.broker)
	} else {
		host := o.mqttHost
		if host == "" {
			host = "127.0.0.1"
		}
		mq := fmt.Sprintf("%s:%d", host, freePort(t))
		c.broker = "tcp://" + mq
		args = append(args, "-mqtt", mq)
	}
	c.centralArgs = args
	c.central = start(t, "central", bins.central, args...)
	c.waitLeader()
	return c
}

// restartCentral stops central (SIGTERM, or SIGKILL when hard) and starts
// it again on the same data dir and addresses.
func (c *cluster) restartCentral(hard bool) {
	c.t.Helper()
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	c.central.stop(sig)
	c.central = start(c.t, "central (restarted)", bins.central, c.centralArgs...)
	c.waitLeader()
}

func (c *cluster) waitLeader() {
	c.t.Helper()
	t := c.t
	eventually(t, 20*time.Second, func() error {
		var leader string
		if err := c.get("/v1/status/leader", &leader); err != nil {
			return err
		}
		if leader == "" {
			return fmt.Errorf("no leader yet")
		}
		return nil
	})
}

// startAgent starts an agent named name with its own data dir.
func (c *cluster) startAgent(name string, extra ...string) *proc {
	c.t.Helper()
	broker := []string{"-broker", c.broker}
	if slices.Contains(extra, "-broker") {
		broker = nil // the caller routes this agent (e.g. through a partition proxy)
	}
	args := append([]string{"-name", name, "-datacenter", "dc1"}, broker...)
	args = append(append(args,
		"-data-dir", filepath.Join(c.dir, "agent-"+name), "-heartbeat", "1s", "-advertise", "127.0.0.1"), extra...)
	p := startEnv(c.t, "agent "+name, c.agentEnv, bins.agent, args...)
	c.agents[name] = p
	// Runs before this agent is stopped (cleanups run last-in first-out):
	// stop every job so no task outlives the test, then kill whatever the
	// agent still has as children (if central could not be reached).
	c.t.Cleanup(func() {
		c.stopAllJobs(10 * time.Second)
		killChildGroups(p.cmd.Process.Pid)
	})
	return p
}

// stopAllJobs stops every job and waits until no allocation is running.
func (c *cluster) stopAllJobs(timeout time.Duration) {
	var jobs []struct {
		ID string `json:"id"`
	}
	if c.central.exited() || c.get("/v1/jobs", &jobs) != nil {
		return
	}
	for _, j := range jobs {
		if resp, err := c.do(http.MethodDelete, "/v1/job/"+url.PathEscape(j.ID)); err == nil { // a child's ID has a slash
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var allocs []alloc
		if c.get("/v1/allocations", &allocs) != nil {
			return
		}
		busy := false
		for _, a := range allocs {
			busy = busy || a.ClientStatus == "running" || a.ClientStatus == "pending"
		}
		if !busy {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killChildGroups SIGKILLs the process group of every child of pid (exec
// tasks each lead their own group).
func killChildGroups(pid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			syscall.Kill(-child, syscall.SIGKILL)
		}
	}
}

// get decodes a GET of the HTTP API into v.
func (c *cluster) get(path string, v any) error {
	resp, err := c.do(http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// do sends one API request without a body, with the cluster's token.
func (c *cluster) do(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://"+c.http+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("X-Tether-Token", c.token)
	}
	client := http.Client{Timeout: 15 * time.Second}
	return client.Do(req)
}

// cli runs the central CLI against the cluster, with the cluster's token.
func (c *cluster) cli(args ...string) (string, int) {
	c.t.Helper()
	return c.cliToken(c.token, args...)
}

// cliToken runs the central CLI with CENTRAL_TOKEN set to token ("" = none).
func (c *cluster) cliToken(token string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(bins.central, args...)
	env := []string{"CENTRAL_ADDR=http://" + c.http}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CENTRAL_") {
			env = append(env, kv)
		}
	}
	if token != "" {
		env = append(env, "CENTRAL_TOKEN="+token)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run central %v: %v", args, err)
	}
	return string(out), code
}

type node struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type alloc struct {
	ID            string  `json:"id"`
	NodeID        string  `json:"node_id"`
	ClientStatus  string  `json:"client_status"`
	DesiredStatus string  `json:"desired_status"`
	JobVersion    uint64  `json:"job_version"`
	Score         float64 `json:"score"`
	TaskStates    map[string]struct {
		State    string `json:"state"`
		Restarts int    `json:"restarts"`
	} `json:"task_states"`
}

// nodeByName waits for the named agent's node to have status.
func (c *cluster) waitNode(name, status string, timeout time.Duration) node {
	c.t.Helper()
	var found node
	eventually(c.t, timeout, func() error {
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		for _, n := range nodes {
			if n.Name == name {
				found = n
				if n.Status == status {
					return nil
				}
				return fmt.Errorf("node %s is %s, want %s", name, n.Status, status)
			}
		}
		return fmt.Errorf("node %s not registered", name)
	})
	return found
}

func (c *cluster) allocs(job string) []alloc {
	var as []alloc
	if err := c.get("/v1/job/"+job+"/allocations", &as); err != nil {
		c.t.Fatalf("allocations of %s: %v", job, err)
	}
	return as
}

// pidAlive reports whether a process with pid exists (and is not a zombie).
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// startMosquitto runs a real Mosquitto 2 on a free loopback port.
func startMosquitto(t testing.TB) string {
	t.Helper()
	url, _ := startMosquittoProc(t)
	return url
}

// startMosquittoProc is startMosquitto that also returns the process.
func startMosquittoProc(t testing.TB) (string, *proc) {
	t.Helper()
	bin := requireTool(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_packet_size 1048576\n", port)), 0o644)
	p := start(t, "mosquitto", bin, "-c", conf)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	return url, p
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// mosquittoDir makes a directory for a Mosquitto's config and files that
// Mosquitto can still read after it drops to user mosquitto (t.TempDir's
// parents are 0700). Call chownMosquitto once the files are in it.
func mosquittoDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chownMosquitto hands dir to user mosquitto, which Mosquitto drops to.
// Under CI=true failing to is an error; elsewhere it skips the test.
func chownMosquitto(t testing.TB, dir string) {
	t.Helper()
	out, err := exec.Command("chown", "-R", "mosquitto:", dir).CombinedOutput()
	testhost.Require(t, err == nil, fmt.Sprintf("handing %s to user mosquitto (%v %s)", dir, err, out),
		"run as root with the mosquitto package installed: it creates that user")
}

// waitRunning waits until job has exactly n allocations, all running, and
// returns them.
func (c *cluster) waitRunning(job string, n int, timeout time.Duration) []alloc {
	c.t.Helper()
	var as []alloc
	eventually(c.t, timeout, func() error {
		as = c.allocs(job)
		if len(as) != n {
			return fmt.Errorf("%s has %d allocations, want %d: %+v", job, len(as), n, as)
		}
		for _, a := range as {
			if a.ClientStatus != "running" {
				return fmt.Errorf("%s allocation %s is %s", job, a.ID, a.ClientStatus)
			}
		}
		return nil
	})
	return as
}
