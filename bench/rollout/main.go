// Command rollout measures a rolling update of a system job: N simulated
// agents (bench/internal/sim: MQTT clients speaking the agent protocol, all
// in this process) run version 1 of a system job on a real central; then
// each run submits a new version with update { max_parallel, min_healthy_time }
// and measures submit → deployment successful. The agents start each
// desired allocation at once, verify central's signature on every desired
// state, and report the allocation healthy (health_check = "task_states")
// min_healthy_time after they started it, with the desired alloc's
// deployment ID, as a real agent does. The floor is waves ×
// min_healthy_time; what central adds over it is the overhead. Central's
// CPU time during the rollout and its peak RSS come from /proc.
//
//	go run ./bench/rollout -central bin/central -agents 1000 -runs 3
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
	"github.com/tether-edge/tether/protocol"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture we build for).
const clockTicks = 100

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	n := flag.Int("agents", 1000, "simulated agents (nodes)")
	maxParallel := flag.Int("max-parallel", 100, "update.max_parallel")
	minHealthy := flag.Duration("min-healthy", 2*time.Second, "update.min_healthy_time")
	runs := flag.Int("runs", 3, "rollouts (each a new job version)")
	beat := flag.Duration("heartbeat", 5*time.Second, "agents' heartbeat interval (the agent's default)")
	flag.Parse()
	b := &bench{n: *n, maxParallel: *maxParallel, minHealthy: *minHealthy, beat: *beat}
	if err := b.run(*centralBin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "rollout bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	n, maxParallel int
	minHealthy     time.Duration
	beat           time.Duration
	c              *sim.Central
	healthReports  atomic.Uint64
}

// result is one rollout's measurements.
type result struct {
	took     time.Duration
	cpu      time.Duration // central's user + system time during it
	selfCPU  time.Duration // this process's (the agents')
	waveEnds []time.Duration
	phases   phases
}

// phases splits a rollout's time by who spends it, from the deployment's
// allocations (central's create times, the agents' start and health
// times). A rollout is a sliding window, not strict waves: each health
// report frees a slot, so the i-th allocation placed (past the first
// max_parallel) waits on the (i - max_parallel)-th health report.
type phases struct {
	deliver  []time.Duration // placed by central → started on its agent
	reaction []time.Duration // the health report that freed the slot → the next allocation placed
	first    time.Duration   // submit → the first allocation placed
	last     time.Duration   // the last health report → the deployment marked successful
}

func (b *bench) run(centralBin string, runs int) error {
	c, err := sim.StartCentral(centralBin)
	if err != nil {
		return err
	}
	defer c.Stop()
	b.c = c
	key, err := c.EnableSigning()
	if err != nil {
		return err
	}
	agents := make([]*sim.Agent, b.n)
	for i := range agents {
		agents[i] = &sim.Agent{ID: fmt.Sprintf("sim-%04d", i), Broker: c.MQTT, Key: key, OnDesired: b.apply}
	}
	if err := sim.ConnectAll(agents); err != nil {
		return err
	}
	defer sim.Beat(agents, b.beat)()
	if err := sim.WaitFor(120*time.Second, func() bool { return c.CountNodes("ready") == b.n }); err != nil {
		return fmt.Errorf("%d agents did not all register: %w (ready %d)", b.n, err, c.CountNodes("ready"))
	}

	t0 := time.Now()
	if err := b.submit(0); err != nil {
		return err
	}
	first, err := b.waitDeployment("", 10*time.Minute, nil)
	if err != nil {
		return fmt.Errorf("version 0: %w", err)
	}
	if err := b.waitAllRunning(0); err != nil {
		return err
	}
	fmt.Printf("version 0 on %d nodes, running and healthy: %.2f s (deployment %s)\n", b.n, time.Since(t0).Seconds(), short(first))

	// What central spends with nothing to do but heartbeats, to tell
	// the rollout's own cost from it.
	idleFor := 10 * time.Second
	idle0, err := cpuTime(c.Cmd.Process.Pid)
	if err != nil {
		return err
	}
	time.Sleep(idleFor)
	idle1, _ := cpuTime(c.Cmd.Process.Pid)
	idleRate := float64(idle1-idle0) / float64(idleFor) // CPU seconds per second
	fmt.Printf("central idle with %d agents heartbeating every %v: %.1f %% of one core\n", b.n, b.beat, 100*idleRate)

	waves := (b.n + b.maxParallel - 1) / b.maxParallel
	floor := time.Duration(waves) * b.minHealthy
	fmt.Printf("rollouts: %d nodes, max_parallel = %d, min_healthy_time = %v: %d waves, floor %.1f s\n",
		b.n, b.maxParallel, b.minHealthy, waves, floor.Seconds())
	var results []result
	last := first
	for v := 1; v <= runs; v++ {
		r, id, err := b.rollout(v, last)
		if err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
		last = id
		results = append(results, r)
		var gaps []string
		prev := time.Duration(0)
		for _, e := range r.waveEnds {
			gaps = append(gaps, fmt.Sprintf("%.2f", (e-prev).Seconds()))
			prev = e
		}
		fmt.Printf("run %d: submit → successful %.2f s (overhead %.1f %%), central CPU %.2f s, agents' process CPU %.2f s; seconds per wave: %s\n",
			v, r.took.Seconds(), overhead(r.took, floor), r.cpu.Seconds(), r.selfCPU.Seconds(), strings.Join(gaps, " "))
		fmt.Printf("  submit → first placed %.0f ms; per allocation: placed by central → started by its agent: %s; health report that freed its slot → placed: %s; last health report → deployment successful %.0f ms\n",
			ms(r.phases.first), quantiles(r.phases.deliver), quantiles(r.phases.reaction), ms(r.phases.last))
	}
	if bad := badSigs(agents); bad > 0 {
		return fmt.Errorf("%d desired states failed central's signature check", bad)
	}
	hwm, err := peakRSS(c.Cmd.Process.Pid)
	if err != nil {
		return err
	}
	took := median(results, func(r result) time.Duration { return r.took })
	cpu := median(results, func(r result) time.Duration { return r.cpu })
	own := cpu.Seconds() - idleRate*took.Seconds() // less the heartbeats'
	fmt.Printf("median of %d: submit → all healthy %.2f s against a floor of %.1f s: overhead %.1f %%; central CPU %.2f s (%.1f %% of one core over the rollout; %.2f s over idle: %.1f ms per replaced allocation); central peak RSS %.0f MiB; %d health reports sent\n",
		len(results), took.Seconds(), floor.Seconds(), overhead(took, floor), cpu.Seconds(),
		100*cpu.Seconds()/took.Seconds(), own, 1000*own/float64(b.n), float64(hwm)/1024, b.healthReports.Load())
	return nil
}

// rollout submits version v and waits for its deployment (not prev) to
// succeed.
func (b *bench) rollout(v int, prev string) (result, string, error) {
	var r result
	pid := b.c.Cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return r, "", err
	}
	self0, err := cpuTime(os.Getpid())
	if err != nil {
		return r, "", err
	}
	t0 := time.Now()
	if err := b.submit(v); err != nil {
		return r, "", err
	}
	healthy := 0
	id, err := b.waitDeployment(prev, 10*time.Minute, func(h int) {
		for ; healthy+b.maxParallel <= h || (h == b.n && healthy < h); healthy = min(healthy+b.maxParallel, b.n) {
			r.waveEnds = append(r.waveEnds, time.Since(t0))
		}
	})
	r.took = time.Since(t0)
	if err != nil {
		return r, "", err
	}
	// Central's own time of the success, not the poll's that saw it.
	var d deployment
	if err := sim.GetJSON(b.c.API+"/v1/deployment/"+id, &d); err != nil {
		return r, "", err
	}
	r.took = time.Unix(0, d.ModifyTime).Sub(t0)
	cpu1, err := cpuTime(pid)
	if err != nil {
		return r, "", err
	}
	self1, _ := cpuTime(os.Getpid())
	r.cpu, r.selfCPU = cpu1-cpu0, self1-self0
	if r.phases, err = b.phases(id, t0, time.Unix(0, d.ModifyTime)); err != nil {
		return r, "", err
	}
	return r, id, b.waitAllRunning(uint64(v))
}

// job is version v of the system job: each version runs another command,
// so an update replaces every allocation (no in-place update).
func (b *bench) job(v int) string {
	return fmt.Sprintf(`job "roll" {
  datacenters = ["dc1"]
  type        = "system"
  update {
    max_parallel     = %d
    min_healthy_time = "%s"
    health_check     = "task_states"
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["%d"]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}`, b.maxParallel, b.minHealthy, 100000+v)
}

func (b *bench) submit(v int) error {
	if err := sim.PostJSON(b.c.API+"/v1/jobs", map[string]string{"hcl": b.job(v)}, nil); err != nil {
		return fmt.Errorf("submit of version %d: %w", v, err)
	}
	return nil
}

// deployment is what the bench reads of GET /v1/deployment/<id>.
type deployment struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	StatusDescription string `json:"status_description"`
	ModifyTime        int64  `json:"modify_time"` // unix ns: when central wrote the status
	TaskGroups        map[string]struct {
		HealthyAllocs int `json:"healthy_allocs"`
	} `json:"task_groups"`
}

// waitDeployment waits for the job's newest deployment, once it is not
// prev, to succeed, calling progress with its healthy count on each poll.
func (b *bench) waitDeployment(prev string, timeout time.Duration, progress func(healthy int)) (string, error) {
	var d deployment
	var latest *deployment
	if err := sim.WaitFor(timeout, func() bool {
		return sim.GetJSON(b.c.API+"/v1/job/roll/deployment", &latest) == nil && latest != nil && latest.ID != prev
	}); err != nil {
		return "", fmt.Errorf("no new deployment: %w", err)
	}
	var failed error
	err := sim.WaitFor(timeout, func() bool {
		if sim.GetJSON(b.c.API+"/v1/deployment/"+latest.ID, &d) != nil {
			return false
		}
		if progress != nil {
			progress(d.TaskGroups["g"].HealthyAllocs)
		}
		switch d.Status {
		case "successful":
			return true
		case "failed", "cancelled":
			failed = fmt.Errorf("deployment %s %s: %s", short(d.ID), d.Status, d.StatusDescription)
			return true
		}
		return false
	})
	if failed != nil {
		return d.ID, failed
	}
	if err != nil {
		return d.ID, fmt.Errorf("deployment %s still %s (%d healthy): %w", short(d.ID), d.Status, d.TaskGroups["g"].HealthyAllocs, err)
	}
	return d.ID, nil
}

// waitAllRunning waits until every node runs version v, and nothing else.
func (b *bench) waitAllRunning(v uint64) error {
	count := func() (want, other int) {
		for _, a := range b.c.JobAllocs("roll") {
			switch {
			case a.ClientStatus == protocol.AllocRunning && a.JobVersion == v:
				want++
			case a.ClientStatus == protocol.AllocRunning || a.ClientStatus == protocol.AllocPending:
				other++
			}
		}
		return want, other
	}
	if err := sim.WaitFor(60*time.Second, func() bool { w, o := count(); return w == b.n && o == 0 }); err != nil {
		w, o := count()
		return fmt.Errorf("%d of %d nodes run version %d, %d allocs of other versions live: %w", w, b.n, v, o, err)
	}
	return nil
}

// apply is a simulated agent's reaction to a desired state: it starts new
// allocations at once (running), stops those central stops or no longer
// lists (complete), and reports a deployment's allocation healthy
// min_healthy_time after it started it.
func (b *bench) apply(a *sim.Agent, d *protocol.Desired) {
	now := time.Now()
	var ups []protocol.AllocUpdate
	listed := map[string]bool{}
	for _, da := range d.Allocs {
		u, held := a.Latest(da.ID)
		switch {
		case da.DesiredStatus == "stop":
			continue
		case !held:
			run := sim.Running(da.ID, now)
			run.JobVersion = da.JobVersion
			ups = append(ups, run)
			if h := da.Health; h != nil && h.Mode == protocol.HealthTaskStates && da.DeploymentID != "" {
				time.AfterFunc(time.Duration(h.MinHealthyMs)*time.Millisecond, func() { b.reportHealthy(a, run, da.DeploymentID) })
			}
		case u.ClientStatus != protocol.AllocRunning:
			continue
		}
		listed[da.ID] = true
	}
	for _, u := range a.Held() {
		if !listed[u.AllocID] && u.ClientStatus == protocol.AllocRunning {
			done := u
			done.ClientStatus, done.Time, done.Health = protocol.AllocComplete, now.UnixMilli(), nil
			done.TaskStates = map[string]protocol.TaskState{"t": {State: protocol.TaskDead, StartedAt: u.TaskStates["t"].StartedAt, FinishedAt: now.UnixMilli()}}
			ups = append(ups, done)
		}
	}
	a.Report(ups...)
}

// reportHealthy reports run healthy in deployment, unless the alloc
// stopped meanwhile.
func (b *bench) reportHealthy(a *sim.Agent, run protocol.AllocUpdate, deployment string) {
	if u, _ := a.Latest(run.AllocID); u.ClientStatus != protocol.AllocRunning {
		return
	}
	run.Health = &protocol.AllocHealth{Healthy: true, Time: time.Now().UnixMilli(), DeploymentID: deployment}
	b.healthReports.Add(1)
	a.Report(run)
}

// phases reads deployment id's allocations.
func (b *bench) phases(id string, submitted, succeeded time.Time) (phases, error) {
	var allocs []struct {
		CreateTime       int64 `json:"create_time"`
		DeploymentStatus *struct {
			Timestamp int64 `json:"timestamp"`
		} `json:"deployment_status"`
		TaskStates map[string]struct {
			StartedAt int64 `json:"started_at"`
		} `json:"task_states"`
	}
	if err := sim.GetJSON(b.c.API+"/v1/deployment/allocations/"+id, &allocs); err != nil {
		return phases{}, err
	}
	var p phases
	var placed, healthy []int64
	for _, a := range allocs {
		if a.DeploymentStatus == nil || a.DeploymentStatus.Timestamp == 0 {
			return phases{}, fmt.Errorf("deployment %s: an allocation has no health time", short(id))
		}
		placed = append(placed, a.CreateTime)
		healthy = append(healthy, a.DeploymentStatus.Timestamp)
		p.deliver = append(p.deliver, time.Duration(a.TaskStates["t"].StartedAt-a.CreateTime))
	}
	slices.Sort(placed)
	slices.Sort(healthy)
	if len(placed) == 0 {
		return phases{}, fmt.Errorf("deployment %s has no allocations", short(id))
	}
	p.first = time.Unix(0, placed[0]).Sub(submitted)
	p.last = succeeded.Sub(time.Unix(0, healthy[len(healthy)-1]))
	for i := b.maxParallel; i < len(placed); i++ {
		p.reaction = append(p.reaction, time.Duration(placed[i]-healthy[i-b.maxParallel]))
	}
	return p, nil
}

// quantiles formats the median and the 99th percentile of ds in ms.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	xs := slices.Clone(ds)
	slices.Sort(xs)
	return fmt.Sprintf("median %.0f ms, p99 %.0f ms", ms(xs[len(xs)/2]), ms(xs[len(xs)*99/100]))
}

func badSigs(agents []*sim.Agent) uint64 {
	var n uint64
	for _, a := range agents {
		n += a.BadSig.Load()
	}
	return n
}

// cpuTime is process pid's user + system CPU time (/proc/<pid>/stat).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// peakRSS is process pid's peak resident set in KiB (VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func overhead(took, floor time.Duration) float64 {
	return 100 * (took.Seconds() - floor.Seconds()) / floor.Seconds()
}

func median(rs []result, f func(result) time.Duration) time.Duration {
	var xs []time.Duration
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	slices.Sort(xs)
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func short(id string) string { return id[:min(8, len(id))] }
