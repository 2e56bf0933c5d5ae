package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
)

// processes are the central servers and brokers of the run, with their
// local process IDs where they run on this machine.
type processes struct {
	centrals []string       // API URLs
	pids     map[string]int // API or broker URL → pid (0: not local)
	brokers  []string
}

func findProcs(o options) *processes {
	p := &processes{centrals: o.centrals, brokers: o.brokers, pids: map[string]int{}}
	for _, u := range append(slices.Clone([]string(o.centrals)), o.brokers...) {
		p.pids[u] = pidListening(u)
	}
	return p
}

// leader is the leader's API URL and pid.
func (p *processes) leader() (string, int) {
	for _, c := range p.centrals {
		var addr string
		if sim.GetJSON(c+"/v1/status/leader", &addr) == nil && addr != "" {
			for _, c2 := range p.centrals {
				if strings.TrimPrefix(c2, "http://") == addr {
					return c2, p.pids[c2]
				}
			}
		}
	}
	return "", 0
}

// leaderCPU is the leader's CPU time so far, in seconds (0 if not local).
func (p *processes) leaderCPU() float64 {
	_, pid := p.leader()
	if pid == 0 {
		return 0
	}
	c, _ := cpuTime(pid)
	return c.Seconds()
}

// dropLeader forgets a killed server.
func (p *processes) dropLeader(url string) {
	p.centrals = slices.DeleteFunc(slices.Clone(p.centrals), func(c string) bool { return c == url })
}

func (p *processes) brokerSeparate() bool {
	for _, b := range p.brokers {
		pid := p.pids[b]
		for _, c := range p.centrals {
			if pid != 0 && p.pids[c] == pid {
				return false
			}
		}
	}
	return len(p.brokers) > 0
}

// self is GET /v1/agent/self of the leader.
type self struct {
	Stats map[string]uint64 `json:"stats"`
}

// nodesDown is the leader's count of nodes it marked down.
func (p *processes) nodesDown() uint64 {
	return p.leaderStats()["nodes_down"]
}

// leaderStats are the leader's counters (GET /v1/agent/self), or none.
func (p *processes) leaderStats() map[string]uint64 {
	l, _ := p.leader()
	var s self
	if l == "" || sim.GetJSON(l+"/v1/agent/self", &s) != nil {
		return nil
	}
	return s.Stats
}

// notReady counts the nodes, among those for which count says so, that
// central does not list as ready.
func (p *processes) notReady(count func(id string) bool) int {
	var nodes []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	for _, c := range p.centrals {
		if sim.GetJSON(c+"/v1/nodes", &nodes) == nil {
			break
		}
	}
	n := 0
	for _, x := range nodes {
		if strings.HasPrefix(x.Name, "fleet-") && x.Status != "ready" && count(x.Name) {
			n++
		}
	}
	return n
}

// submit submits a job file through any server.
func (p *processes) submit(hcl string) error {
	var err error
	for _, c := range p.centrals {
		if err = sim.PostJSON(c+"/v1/jobs", map[string]string{"hcl": hcl}, nil); err == nil {
			return nil
		}
	}
	return err
}

// jobRunning is how many allocations of job the API counts running.
func (p *processes) jobRunning(job string) int {
	var sum struct {
		Summary map[string]struct {
			Running int `json:"running"`
		} `json:"summary"`
	}
	for _, c := range p.centrals {
		if sim.GetJSON(c+"/v1/job/"+job+"/summary", &sum) == nil {
			break
		}
	}
	n := 0
	for _, g := range sum.Summary {
		n += g.Running
	}
	return n
}

// samples are CPU (% of one core) and RSS (MiB) samples by role.
type samples struct {
	cpu, rss map[string][]float64
	load     float64
}

// median is a role's median CPU and RSS.
func (s *samples) median(role string) (float64, float64) {
	return med(s.cpu[role]), med(s.rss[role])
}

func med(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// sample measures every local process for d, every interval: the
// leader, each follower (the role "follower" is the busier one), a
// broker that is its own process, and this simulator.
func (p *processes) sample(d, every time.Duration) *samples {
	leader, lpid := p.leader()
	roles := map[string]int{"leader": lpid, "sim": os.Getpid()}
	// The broker's process: its own, or the server that embeds it (then
	// not counted as a plain follower).
	broker := p.pids[p.brokers[0]]
	if broker != lpid {
		roles["broker"] = broker
	}
	var followers []int
	for _, c := range p.centrals {
		if pid := p.pids[c]; c != leader && pid != 0 && pid != broker {
			followers = append(followers, pid)
		}
	}
	for i, pid := range followers {
		roles[fmt.Sprintf("follower%d", i)] = pid
	}
	s := &samples{cpu: map[string][]float64{}, rss: map[string][]float64{}}
	prev := map[string]time.Duration{}
	for r, pid := range roles {
		prev[r], _ = cpuTime(pid)
	}
	var loads []float64
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for end := time.Now().Add(d); time.Now().Before(end); {
		<-t.C
		now := time.Now()
		for r, pid := range roles {
			if pid == 0 {
				continue
			}
			c, err := cpuTime(pid)
			if err != nil {
				continue
			}
			s.cpu[r] = append(s.cpu[r], 100*float64(c-prev[r])/float64(now.Sub(last)))
			prev[r] = c
			if b, err := rssBytes(pid); err == nil {
				s.rss[r] = append(s.rss[r], float64(b)/(1<<20))
			}
		}
		loads = append(loads, loadAvg())
		last = now
	}
	// The busier follower stands for "follower".
	best := -1.0
	for i := range followers {
		r := fmt.Sprintf("follower%d", i)
		if c := med(s.cpu[r]); c > best {
			best = c
			s.cpu["follower"], s.rss["follower"] = s.cpu[r], s.rss[r]
		}
	}
	s.load = med(loads)
	return s
}
