// Command ota measures an agent rollout: N simulated agents
// (bench/internal/sim, all in this process) on version 1 of a real
// central; a release of version 2 is added and a rollout started with
// -max-parallel. Each agent ordered downloads the binary from the URL in
// its order, checks its size, SHA-256 and central's release signature,
// then "re-execs": it drops its connection and says hello again as version
// 2 with its allocations re-attached. Every -cut-every'th agent's first
// download is cut at half and resumed with a Range request, as a real
// agent's is after a broken link. Printed: start → rollout complete,
// central's CPU time over it (from /proc), and the release bytes central
// served per agent (its /v1/metrics counter).
//
//	make build && go run ./bench/ota -central bin/central -agents 1000 -max-parallel 10%
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
	"github.com/tether-edge/tether/protocol"
)

const clockTicks = 100 // USER_HZ: the unit of utime and stime in /proc/<pid>/stat

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	n := flag.Int("agents", 1000, "simulated agents (nodes)")
	maxParallel := flag.String("max-parallel", "10%", "rollout -max-parallel")
	canary := flag.Int("canary", 0, "rollout -canary")
	cutEvery := flag.Int("cut-every", 10, "cut every Nth agent's download at half and resume it (0: none)")
	binary := flag.String("binary", "", "agent binary of version 2 to roll out (default: the real agent for linux/armv7, built now)")
	beat := flag.Duration("heartbeat", 5*time.Second, "agents' heartbeat interval")
	flag.Parse()
	if err := run(*centralBin, *n, *maxParallel, *canary, *cutEvery, *binary, *beat); err != nil {
		fmt.Fprintln(os.Stderr, "ota bench:", err)
		os.Exit(1)
	}
}

func run(centralBin string, n int, maxParallel string, canary, cutEvery int, binary string, beat time.Duration) error {
	const v2 = "2.0.0-bench"
	if binary == "" {
		dir, err := os.MkdirTemp("", "tether-ota-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "agent")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+v2, "-o", binary, "./cmd/agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build the agent: %v\n%s", err, out)
		}
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	c, err := sim.StartCentral(centralBin)
	if err != nil {
		return err
	}
	defer c.Stop()

	// The release first (it makes central's signing key), then the agents.
	req, _ := http.NewRequest(http.MethodPut, c.API+"/v1/agent/release/"+v2, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("release add: %s %s", resp.Status, body)
	}
	var rel struct {
		Target string `json:"target"`
	}
	json.Unmarshal(body, &rel)
	var chain []protocol.KeyLink
	if err := sim.GetJSON(c.API+"/v1/security/keyring", &chain); err != nil || len(chain) == 0 {
		return fmt.Errorf("central's key chain: %v (%d keys)", err, len(chain))
	}
	key := ed25519.PublicKey(chain[len(chain)-1].PublicKey)

	var downloaded, badSig, resumed atomic.Int64
	agents := make([]*sim.Agent, n)
	for i := range agents {
		a := &sim.Agent{ID: fmt.Sprintf("ota-%04d", i), Broker: c.MQTT, Version: "1.0.0",
			Attrs: map[string]string{"cpu.arm_version": "7", protocol.AttrUpgrade: "1"}}
		cut := cutEvery > 0 && i%cutEvery == 0
		var busy atomic.Bool
		a.OnDesired = func(a *sim.Agent, d *protocol.Desired) {
			u := d.Upgrade
			if u == nil || u.Version == a.Version || !busy.CompareAndSwap(false, true) {
				return
			}
			go func() {
				defer busy.Store(false)
				got, err := fetch(u, cut, &resumed)
				if err != nil {
					fmt.Fprintln(os.Stderr, a.ID, "download:", err)
					return
				}
				downloaded.Add(int64(len(got)))
				sum := sha256.Sum256(got)
				if !bytes.Equal(sum[:], u.SHA256) || protocol.VerifyRelease(u.Manifest(), u.ReleaseSig, key) != nil {
					badSig.Add(1)
					return
				}
				// The re-exec: a new connection, a hello as the new version.
				a.Disconnect()
				a.Version, a.Reattached = u.Version, true
				if err := a.Connect(); err != nil {
					fmt.Fprintln(os.Stderr, a.ID, "reconnect:", err)
				}
			}()
		}
		agents[i] = a
	}
	if err := sim.ConnectAll(agents); err != nil {
		return err
	}
	stop := sim.Beat(agents, beat)
	defer stop()
	if err := sim.WaitFor(2*time.Minute, func() bool { return c.CountNodes("ready") == n }); err != nil {
		return fmt.Errorf("%d of %d nodes ready", c.CountNodes("ready"), n)
	}

	pid := c.Cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var ro struct {
		ID          string `json:"id"`
		MaxParallel int    `json:"max_parallel"`
	}
	spec := map[string]any{"version": v2, "max_parallel": maxParallel, "canary": canary, "health_window": "5m"}
	if err := sim.PostJSON(c.API+"/v1/agent/rollouts", spec, &ro); err != nil {
		return fmt.Errorf("rollout start: %w", err)
	}
	var st struct {
		Status            string `json:"status"`
		StatusDescription string `json:"status_description"`
	}
	err = sim.WaitFor(30*time.Minute, func() bool {
		sim.GetJSON(c.API+"/v1/agent/rollout/"+ro.ID, &st)
		return st.Status != "running"
	})
	took := time.Since(start)
	cpu1, _ := cpuTime(pid)
	if err != nil || st.Status != "complete" {
		return fmt.Errorf("rollout %s: %s (%v)", st.Status, st.StatusDescription, err)
	}
	served := metric(c.API, "tether_agent_release_bytes_total")
	fmt.Printf("agents %d, target %s, binary %d bytes, max parallel %s (%d), canary %d\n", n, rel.Target, len(data), maxParallel, ro.MaxParallel, canary)
	fmt.Printf("rollout: %s in %.1f s; central CPU %.2f s (%.0f %% of one core)\n", st.StatusDescription, took.Seconds(), cpu1.Sub(cpu0).Seconds(), 100*cpu1.Sub(cpu0).Seconds()/took.Seconds())
	fmt.Printf("bytes central served per agent: %.3f binaries (%d downloads cut at half and resumed); agents received %.3f binaries each; bad signature or hash: %d\n",
		served/float64(n)/float64(len(data)), resumed.Load(), float64(downloaded.Load())/float64(n)/float64(len(data)), badSig.Load())
	return nil
}

// fetch downloads the order's binary; cut stops the first attempt at half
// and resumes with a Range request.
func fetch(u *protocol.AgentUpgrade, cut bool, resumed *atomic.Int64) ([]byte, error) {
	var got []byte
	for attempt := 0; attempt < 20; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, u.URLs[0], nil)
		if len(got) > 0 {
			req.Header.Set("Range", "bytes="+strconv.Itoa(len(got))+"-")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			got = got[:0]
		case http.StatusPartialContent:
			resumed.Add(1)
		case http.StatusServiceUnavailable:
			resp.Body.Close()
			time.Sleep(time.Second) // the server's Retry-After, shortened
			continue
		default:
			resp.Body.Close()
			return nil, errors.New(resp.Status)
		}
		r := io.Reader(resp.Body)
		if cut && len(got) == 0 {
			r = io.LimitReader(resp.Body, u.Size/2) // the link breaks here
		}
		b, err := io.ReadAll(io.LimitReader(r, u.Size-int64(len(got))))
		resp.Body.Close()
		got = append(got, b...)
		if err == nil && int64(len(got)) == u.Size {
			return got, nil
		}
		cut = false
	}
	return nil, errors.New("gave up")
}

func metric(api, name string) float64 {
	resp, err := http.Get(api + "/v1/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	return 0
}

// cpuTime is a process's user + system CPU time.
type cpuSample time.Duration

func (c cpuSample) Sub(o cpuSample) time.Duration { return time.Duration(c - o) }

func cpuTime(pid int) (cpuSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return cpuSample(time.Duration(ut+st) * time.Second / clockTicks), nil
}
