// Command e2e measures Tether end to end on this machine, the way Nomad 2.0
// was measured for comparison: central and the agent as separate processes,
// one exec task.
//
//	go run ./bench/e2e -central bin/central -agent bin/agent
//
// It prints submit → running latency (median of -n runs, count=1 and
// count=50), the agent's idle RSS, and the RSS each running exec task adds
// to the agent, with the number of helper processes per task (always 0).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
)

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	agentBin := flag.String("agent", "bin/agent", "agent binary")
	n := flag.Int("n", 20, "runs of the count=1 submit → running measurement")
	tasks := flag.Int("tasks", 20, "exec tasks for the per-task memory measurement")
	flag.Parse()
	if err := run(*centralBin, *agentBin, *n, *tasks); err != nil {
		fmt.Fprintln(os.Stderr, "e2e bench:", err)
		os.Exit(1)
	}
}

type env struct {
	http   string
	agent  *exec.Cmd
	client *http.Client
}

func run(centralBin, agentBin string, n, tasks int) error {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e := &env{http: sim.FreeAddr(), client: &http.Client{Timeout: 30 * time.Second}}
	mqtt := sim.FreeAddr()
	central := exec.Command(centralBin, "server", "-data-dir", filepath.Join(dir, "central"), "-http", e.http, "-mqtt", mqtt, "-raft", sim.FreeAddr())
	central.Stderr = os.Stderr
	if err := central.Start(); err != nil {
		return err
	}
	defer func() { central.Process.Signal(syscall.SIGTERM); central.Wait() }()
	e.agent = exec.Command(agentBin, "-name", "bench", "-datacenter", "dc1", "-broker", "tcp://"+mqtt, "-data-dir", filepath.Join(dir, "agent"))
	if err := e.agent.Start(); err != nil {
		return err
	}
	defer func() { e.agent.Process.Signal(syscall.SIGTERM); e.agent.Wait() }()

	if err := e.waitFor(30*time.Second, func() (bool, error) {
		var nodes []map[string]any
		err := e.get("/v1/nodes", &nodes)
		return err == nil && len(nodes) == 1 && nodes[0]["status"] == "ready", nil
	}); err != nil {
		return fmt.Errorf("agent did not register: %w", err)
	}
	time.Sleep(2 * time.Second) // let the agent settle before reading its idle RSS
	idle := rssKB(e.agent.Process.Pid)
	// Memory per running task: RSS of the agent with `tasks` sleeping exec
	// tasks, minus its RSS with none, and the agent's child processes.
	base := idle
	if err := e.submit("mem", tasks, "sleep 3600"); err != nil {
		return err
	}
	if err := e.waitRunning("mem", tasks, 60*time.Second); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	loaded := rssKB(e.agent.Process.Pid)
	children := childCount(e.agent.Process.Pid)
	e.stop("mem")

	fmt.Println("| measurement | median | min | max | runs |")
	fmt.Println("|---|---|---|---|---|")
	var single []time.Duration
	for i := 0; i < n; i++ {
		d, err := e.submitUntilRunning(fmt.Sprintf("lat-%d", i), 1)
		if err != nil {
			return err
		}
		single = append(single, d)
	}
	report("submit → running, count=1", single)
	var fifty []time.Duration
	for i := 0; i < 5; i++ {
		d, err := e.submitUntilRunning(fmt.Sprintf("fifty-%d", i), 50)
		if err != nil {
			return err
		}
		fifty = append(fifty, d)
	}
	report("submit → all running, count=50", fifty)

	fmt.Println()
	fmt.Printf("agent idle RSS after connecting: %.1f MiB\n", float64(idle)/1024)
	fmt.Printf("agent RSS with %d running exec tasks: %.1f MiB (+%.0f KiB per task)\n", tasks, float64(loaded)/1024, float64(loaded-base)/float64(tasks))
	fmt.Printf("agent child processes with %d tasks: %d (helper processes per task: %d)\n", tasks, children, (children-tasks)/max(tasks, 1))
	return nil
}

func report(name string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("| %s | %s | %s | %s | %d |\n", name, ms(ds[len(ds)/2]), ms(ds[0]), ms(ds[len(ds)-1]), len(ds))
}

func jobHCL(id string, count int, cmd string) string {
	return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
`, id, count, cmd)
}

func (e *env) submit(id string, count int, cmd string) error {
	body, _ := json.Marshal(map[string]any{"hcl": jobHCL(id, count, cmd), "filename": id + ".hcl"})
	resp, err := e.client.Post("http://"+e.http+"/v1/jobs", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return fmt.Errorf("submit %s: %s: %s", id, resp.Status, b.String())
	}
	return nil
}

func (e *env) submitUntilRunning(id string, count int) (time.Duration, error) {
	start := time.Now()
	if err := e.submit(id, count, "sleep 3600"); err != nil {
		return 0, err
	}
	if err := e.waitRunning(id, count, 60*time.Second); err != nil {
		return 0, err
	}
	d := time.Since(start)
	e.stop(id)
	return d, nil
}

func (e *env) waitRunning(id string, count int, timeout time.Duration) error {
	return e.waitFor(timeout, func() (bool, error) {
		var allocs []map[string]any
		if err := e.get("/v1/job/"+id+"/allocations", &allocs); err != nil {
			return false, nil
		}
		running := 0
		for _, a := range allocs {
			if a["client_status"] == "running" {
				running++
			}
		}
		return running == count, nil
	})
}

func (e *env) stop(id string) {
	req, _ := http.NewRequest(http.MethodDelete, "http://"+e.http+"/v1/job/"+id, nil)
	if resp, err := e.client.Do(req); err == nil {
		resp.Body.Close()
	}
	e.waitFor(30*time.Second, func() (bool, error) {
		var allocs []map[string]any
		e.get("/v1/job/"+id+"/allocations", &allocs)
		for _, a := range allocs {
			if a["client_status"] == "running" || a["client_status"] == "pending" {
				return false, nil
			}
		}
		return true, nil
	})
}

func (e *env) get(path string, v any) error {
	resp, err := e.client.Get("http://" + e.http + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (e *env) waitFor(timeout time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rssKB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}

// childCount counts processes whose parent is pid.
func childCount(pid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
				n++
			}
		}
	}
	return n
}
