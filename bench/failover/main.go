// Command failover measures leader failover of a three-server central: it
// kills the leader with SIGKILL and times how long until a write (a job
// submission, sent to a surviving server, which forwards it) is
// acknowledged by the new leader. It restarts the killed server, waits for
// the cluster to settle, and repeats; then prints a table and the median.
//
//	go run ./bench/failover -central bin/central -runs 10
//
// Raft timings are central's defaults (raft_multiplier 1: heartbeat and
// election timeout 1s, leader lease 500ms) unless -raft-multiplier is set.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	runs := flag.Int("runs", 10, "failovers to measure")
	mult := flag.Int("raft-multiplier", 0, "raft_multiplier passed to the servers (0: the default)")
	flag.Parse()
	if err := run(*centralBin, *runs, *mult); err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

type server struct {
	name, http string
	args       []string
	cmd        *exec.Cmd
	done       chan struct{}
}

func (s *server) start(bin, logDir string) error {
	log, err := os.Create(filepath.Join(logDir, s.name+".log"))
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); log.Close(); close(s.done) }()
	return nil
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var client = &http.Client{Timeout: 20 * time.Second}

func leaderOf(s *server) string {
	resp, err := client.Get("http://" + s.http + "/v1/status/leader")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var addr string
	json.NewDecoder(resp.Body).Decode(&addr)
	return addr
}

// settled waits until every server names the same live leader.
func settled(servers []*server, timeout time.Duration) (*server, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		seen := map[string]bool{}
		for _, s := range servers {
			seen[leaderOf(s)] = true
		}
		if len(seen) == 1 && !seen[""] {
			for _, s := range servers {
				if seen[s.http] {
					return s, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no agreed leader after %v", timeout)
}

func submit(s *server, id string) error {
	hcl := fmt.Sprintf("job %q {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n", id)
	b, _ := json.Marshal(map[string]string{"hcl": hcl})
	resp, err := client.Post("http://"+s.http+"/v1/jobs", "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

func run(bin string, runs, mult int) error {
	dir, err := os.MkdirTemp("", "tether-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var servers []*server
	for i := range 3 {
		ports := make([]int, 3)
		for j := range ports {
			if ports[j], err = freePort(); err != nil {
				return err
			}
		}
		servers = append(servers, &server{name: fmt.Sprintf("s%d", i+1), http: fmt.Sprintf("127.0.0.1:%d", ports[0]),
			args: []string{"server", "-name", fmt.Sprintf("s%d", i+1), "-data-dir", filepath.Join(dir, fmt.Sprintf("s%d", i+1)),
				"-http", fmt.Sprintf("127.0.0.1:%d", ports[0]), "-raft", fmt.Sprintf("127.0.0.1:%d", ports[1]),
				"-mqtt", fmt.Sprintf("127.0.0.1:%d", ports[2]), "-bootstrap-expect", "3", "-log-level", "warn"}})
	}
	for _, s := range servers {
		for _, o := range servers {
			if o != s {
				s.args = append(s.args, "-join", o.http)
			}
		}
		if mult > 0 {
			s.args = append(s.args, "-raft-multiplier", strconv.Itoa(mult))
		}
		if err := s.start(bin, dir); err != nil {
			return err
		}
	}
	defer func() {
		for _, s := range servers {
			s.kill()
		}
	}()
	if _, err := settled(servers, 30*time.Second); err != nil {
		return err
	}
	timings := fmt.Sprintf("raft_multiplier %d: heartbeat/election timeout %v, leader lease %v", max(mult, 1), time.Duration(max(mult, 1))*time.Second, time.Duration(max(mult, 1))*500*time.Millisecond)
	fmt.Printf("Leader failover, 3 servers on loopback (%s)\n\n", timings)
	fmt.Printf("%-4s %-7s %-7s %10s %10s\n", "run", "killed", "leader", "elected", "first_ack")
	var acks []time.Duration
	for r := range runs {
		leader, err := settled(servers, 30*time.Second)
		if err != nil {
			return err
		}
		if err := submit(leader, fmt.Sprintf("warm-%d", r)); err != nil {
			return fmt.Errorf("warm-up write: %w", err)
		}
		var rest []*server
		for _, s := range servers {
			if s != leader {
				rest = append(rest, s)
			}
		}
		t0 := time.Now()
		leader.kill()
		elected := make(chan time.Duration, 1)
		go func() {
			for {
				if a := leaderOf(rest[1]); a != "" && a != leader.http {
					elected <- time.Since(t0)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		var ack time.Duration
		for i := 0; ; i++ {
			if err := submit(rest[i%2], fmt.Sprintf("run-%d", r)); err == nil {
				ack = time.Since(t0)
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("run %d: no write acknowledged within a minute", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
		var el time.Duration
		select {
		case el = <-elected:
		case <-time.After(10 * time.Second):
		}
		newLeader := leaderOf(rest[0])
		name := "?"
		for _, s := range servers {
			if s.http == newLeader {
				name = s.name
			}
		}
		fmt.Printf("%-4d %-7s %-7s %10s %10s\n", r+1, leader.name, name, el.Round(time.Millisecond), ack.Round(time.Millisecond))
		acks = append(acks, ack)
		if err := leader.start(bin, dir); err != nil {
			return err
		}
	}
	slices.Sort(acks)
	med := acks[len(acks)/2]
	if len(acks)%2 == 0 {
		med = (acks[len(acks)/2-1] + acks[len(acks)/2]) / 2
	}
	fmt.Printf("\nkill -9 of the leader → first acknowledged write: median %v, min %v, max %v over %d runs\n",
		med.Round(time.Millisecond), acks[0].Round(time.Millisecond), acks[len(acks)-1].Round(time.Millisecond), len(acks))
	return nil
}
