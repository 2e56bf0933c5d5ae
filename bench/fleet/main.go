// Command fleet simulates a fleet of agents against a running central and
// measures what central and its brokers spend on it. Every figure it
// prints is for simulated agents: lightweight agents in this one process,
// each with its own MQTT connection through the agent's own session code
// (agent/session), speaking the agent's protocol (protocol/): online
// marker and last will, hello with every allocation held, heartbeats,
// desired state decoded strictly and its Ed25519 signature checked, a fake
// task runtime that reports each allocation running at once, updates
// acknowledged by central, churn (agents leaving and coming back) and
// flapping tasks.
//
//	go run ./bench/fleet -central http://127.0.0.1:7600 -broker tcp://127.0.0.1:1883 -agents 1000 [-heartbeat 15s] [-duration 60s]
//
// Phases: connect (all registered) → steady state (-duration: CPU and RSS
// of every local central and broker process, report → state latency) →
// churn (-churn) → a system job on every node (submit → all running) → an
// update of it rolled over every node → a reconnect storm of all agents
// (-restart-broker CMD restarts the broker; without it every agent drops
// its connection and reconnects at once; -kill-broker CMD instead kills
// one node of a clustered broker under load) → leader failover (-failover:
// kill -9 of the leader found on this machine). It ends with one line
// starting "fleet:". `-sweep` runs the standard sweep (sweep.go): a
// 3-server central in separate processes, embedded broker and Mosquitto,
// N = 1,000 / 5,000 / 10,000, results, table and chart.
package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
	"github.com/tether-edge/tether/protocol"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// options are the simulator's flags.
type options struct {
	centrals, brokers listFlag
	agents            int
	heartbeat         time.Duration
	duration          time.Duration
	ttl               time.Duration // central's heartbeat TTL + grace, for waiting out false downs
	flap              float64
	churn             float64
	churnAway         time.Duration
	job               bool
	restartBroker     string
	killBroker        string
	storm             bool
	failover          bool
	jsonOut           string
	label             string
	connectRate       int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-sweep" {
		os.Exit(sweepMain(os.Args[2:]))
	}
	var o options
	flag.Var(&o.centrals, "central", "central's HTTP API URL (repeatable: every server of the cluster)")
	flag.Var(&o.brokers, "broker", "MQTT broker URL (repeatable: agents are spread over them, each keeping the others as fallbacks)")
	flag.IntVar(&o.agents, "agents", 1000, "simulated agents")
	flag.DurationVar(&o.heartbeat, "heartbeat", 15*time.Second, "agents' heartbeat interval")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "steady-state window")
	flag.DurationVar(&o.ttl, "ttl", 30*time.Second, "central's heartbeat TTL + grace (how long to watch for nodes falsely marked down)")
	flag.Float64Var(&o.flap, "flap", 0.01, "task flaps per agent per minute (each a failed task restarted: one update)")
	flag.Float64Var(&o.churn, "churn", 0, "share of agents leaving per minute in the churn phase (0: no churn phase)")
	flag.DurationVar(&o.churnAway, "churn-away", time.Minute, "how long a churned agent stays away")
	flag.BoolVar(&o.job, "job", true, "run the system job and its update")
	flag.StringVar(&o.restartBroker, "restart-broker", "", "shell command that restarts the broker, for the reconnect storm (returns once it is started again)")
	flag.BoolVar(&o.storm, "storm", true, "run the reconnect storm")
	flag.StringVar(&o.killBroker, "kill-broker", "", "shell command that kills one node of a clustered broker (NATS); replaces the reconnect storm with the node-loss phase")
	flag.BoolVar(&o.failover, "failover", false, "kill -9 the leader (a process on this machine) and time the failover")
	flag.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	flag.StringVar(&o.label, "label", "", "label of this run in the results (e.g. the broker kind)")
	flag.IntVar(&o.connectRate, "connect-rate", 500, "new agent connections per second at start")
	flag.Parse()
	if len(o.centrals) == 0 || len(o.brokers) == 0 {
		fmt.Fprintln(os.Stderr, "fleet: -central URL and -broker URL are required (go run ./bench/fleet -central http://127.0.0.1:7600 -broker tcp://127.0.0.1:1883 -agents 1000)")
		os.Exit(2)
	}
	res, err := run(o)
	if res != nil && o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if werr := os.WriteFile(o.jsonOut, b, 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "fleet:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		if res != nil {
			fmt.Println(res.summary())
		}
		os.Exit(1)
	}
	fmt.Println(res.summary())
}

// fleet is what the simulated agents share.
type fleet struct {
	o        options
	brokers  []string
	topics   protocol.Topics
	key      ed25519.PublicKey
	attrs    map[string]string
	agents   []*simAgent
	phase    atomic.Pointer[tracker]
	storm    atomic.Pointer[tracker]
	lat      latencies
	stopBeat chan struct{}

	connects, lost, malformed, badSig, stale, desired, flaps, rehellos, hellos, beats atomic.Uint64
	allocStarts, allocStops                                                           atomic.Uint64 // allocations started and stopped by desired states
}

// Result is one run's figures (the sweep's results file holds a list).
type Result struct {
	Label     string  `json:"label"`
	Agents    int     `json:"agents"`
	Heartbeat string  `json:"heartbeat"`
	Date      string  `json:"date"`
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`

	ConnectS float64 `json:"connect_s"` // start → every agent registered (its first desired state)

	// Steady state, medians of 5 s samples.
	LeaderCPU    float64 `json:"leader_cpu_pct"` // % of one core
	LeaderRSSMiB float64 `json:"leader_rss_mib"`
	FollowerCPU  float64 `json:"follower_cpu_pct"` // the busier follower
	FollowerRSS  float64 `json:"follower_rss_mib"`
	BrokerCPU    float64 `json:"broker_cpu_pct"` // the broker's process (embedded: the follower that hosts it, server included)
	BrokerRSSMiB float64 `json:"broker_rss_mib"`
	// BrokerEmbedded: the broker is a follower's embedded broker, and
	// Follower* are the other follower's.
	BrokerEmbedded bool    `json:"broker_embedded"`
	SimCPU         float64 `json:"sim_cpu_pct"`
	SimRSSMiB      float64 `json:"sim_rss_mib"`
	SteadyLoad     float64 `json:"steady_load"`
	LatP50Ms       float64 `json:"report_to_state_p50_ms"`
	LatP99Ms       float64 `json:"report_to_state_p99_ms"`
	LatN           int     `json:"report_to_state_samples"`
	FalseDowns     int     `json:"false_downs"` // nodes marked down while their agent beat

	ChurnLeft     int     `json:"churn_left,omitempty"`
	ChurnBackS    float64 `json:"churn_back_s,omitempty"` // last returned agent's hello acknowledged, after it returned
	ChurnFalse    int     `json:"churn_false_downs,omitempty"`
	SystemJobS    float64 `json:"system_job_s"`    // submit → all running (central acknowledged every running report)
	SystemJobLoad float64 `json:"system_job_load"` // load average then
	// Leader CPU seconds spent during each phase: the work, which does not
	// depend on the machine's load as the wall times do.
	SystemJobCPU     float64 `json:"system_job_leader_cpu_s"`
	UpdateCPU        float64 `json:"update_leader_cpu_s"`
	StormCPU         float64 `json:"storm_leader_cpu_s"`
	UpdateS          float64 `json:"update_s"`
	UpdateLoad       float64 `json:"update_load"`
	StormS           float64 `json:"storm_s"` // broker back → every agent's hello acknowledged
	StormKind        string  `json:"storm_kind"`
	StormBrokerDownS float64 `json:"storm_broker_down_s"` // restart command → the broker accepting again
	StormLoad        float64 `json:"storm_load"`
	InboxPeak        uint64  `json:"leader_inbox_peak"`    // most agent messages waiting for the leader loop (storm)
	InboxDropped     uint64  `json:"leader_inbox_dropped"` // dropped for a full inbox
	FailoverS        float64 `json:"failover_write_s"`     // kill -9 of the leader → a write accepted
	FailoverDowns    int     `json:"failover_downs"`       // nodes marked down by the new leader
	FailoverLoad     float64 `json:"failover_load"`

	// Node loss (-kill-broker): one node of a clustered broker killed
	// under load. Moved: agents that were connected to it.
	NodeLossMoved    int     `json:"node_loss_moved,omitempty"`
	NodeLossS        float64 `json:"node_loss_s,omitempty"` // kill → every moved agent's new hello acknowledged
	NodeLossRestarts int     `json:"node_loss_restarts"`    // allocations stopped or started meanwhile
	NodeLossDowns    int     `json:"node_loss_downs"`       // nodes marked down or not ready, TTL later
	NodeLossUpdateS  float64 `json:"node_loss_update_s,omitempty"`

	BadSignatures uint64 `json:"bad_signatures"`
	Rehellos      uint64 `json:"rehellos"`
}

func (r *Result) summary() string {
	return fmt.Sprintf("fleet: %s %d simulated agents, heartbeat %s: leader %.1f%% CPU %.0f MiB, follower %.1f%%, broker %s; report→state p50 %.0f ms p99 %.0f ms; false downs %d; system job %.1f s, update %.1f s, storm (%s) %.1f s, failover write %.2f s with %d nodes down; load %.1f–%.1f",
		r.Label, r.Agents, r.Heartbeat, r.LeaderCPU, r.LeaderRSSMiB, r.FollowerCPU, r.brokerFigure(), r.LatP50Ms, r.LatP99Ms,
		r.FalseDowns, r.SystemJobS, r.UpdateS, r.StormKind, r.StormS, r.FailoverS, r.FailoverDowns, r.LoadStart, r.LoadEnd)
}

func (r *Result) brokerFigure() string {
	if r.BrokerEmbedded {
		return fmt.Sprintf("embedded in a follower: that follower %.1f%% CPU %.0f MiB", r.BrokerCPU, r.BrokerRSSMiB)
	}
	return fmt.Sprintf("%.1f%% CPU %.0f MiB", r.BrokerCPU, r.BrokerRSSMiB)
}

func run(o options) (*Result, error) {
	res := &Result{Label: o.label, Agents: o.agents, Heartbeat: o.heartbeat.String(),
		Date: time.Now().UTC().Format("2006-01-02 15:04"), LoadStart: loadAvg()}
	defer func() { res.LoadEnd = loadAvg() }()
	f := &fleet{o: o, brokers: o.brokers, attrs: fingerprint(), stopBeat: make(chan struct{})}
	key, err := (&sim.Central{API: o.centrals[0]}).EnableSigning()
	if err != nil {
		return nil, fmt.Errorf("central's signing key: %w", err)
	}
	f.key = key
	fmt.Printf("%d simulated agents (one MQTT connection each, agent/session), heartbeat %s, brokers %s\n", o.agents, o.heartbeat, strings.Join(o.brokers, " "))

	// Connect, at connect-rate a second, and wait for every first desired state.
	t0 := time.Now()
	f.agents = make([]*simAgent, o.agents)
	for i := range f.agents {
		f.agents[i] = &simAgent{f: f, idx: i, id: fmt.Sprintf("fleet-%05d", i)}
	}
	go f.beatWheel()
	defer close(f.stopBeat)
	registered := func() int {
		n := 0
		for _, a := range f.agents {
			if a.up.Load() && a.connected.Load() && a.applied.Load() {
				n++
			}
		}
		return n
	}
	tick := time.NewTicker(time.Second / time.Duration(max(o.connectRate, 1)))
	for _, a := range f.agents {
		<-tick.C
		a.start()
	}
	tick.Stop()
	if err := waitUntil(10*time.Minute, func() bool { return registered() == o.agents }); err != nil {
		return res, fmt.Errorf("only %d of %d simulated agents registered: %w", registered(), o.agents, err)
	}
	res.ConnectS = time.Since(t0).Seconds()
	fmt.Printf("connect: %d simulated agents registered in %.1f s (each has its first signed desired state)\n", o.agents, res.ConnectS)
	defer func() {
		var wg sync.WaitGroup
		for _, a := range f.agents {
			if a.up.Load() {
				wg.Add(1)
				go func() { defer wg.Done(); a.leave() }()
			}
		}
		wg.Wait()
	}()

	procs := findProcs(o)
	stopFlap := f.flapLoop()
	defer stopFlap()

	if o.job { // the fleet runs a system job during the steady state
		if err := f.jobPhase(res, procs, 0); err != nil {
			return res, err
		}
	}
	// Steady state.
	downs0 := procs.nodesDown()
	f.lat.window(true)
	samples := procs.sample(o.duration, 5*time.Second)
	lats := f.lat.window(false)
	res.LeaderCPU, res.LeaderRSSMiB = samples.median("leader")
	res.FollowerCPU, res.FollowerRSS = samples.median("follower")
	res.BrokerCPU, res.BrokerRSSMiB = samples.median("broker")
	res.BrokerEmbedded = !procs.brokerSeparate()
	res.SimCPU, res.SimRSSMiB = samples.median("sim")
	res.SteadyLoad = samples.load
	res.LatP50Ms, res.LatP99Ms, res.LatN = pct(lats, 50), pct(lats, 99), len(lats)
	res.FalseDowns = int(procs.nodesDown() - downs0)
	fmt.Printf("steady state (%s, load %.1f): leader %.1f%% of a core, %.0f MiB; busier follower %.1f%%, %.0f MiB; broker %s; simulator %.1f%%, %.0f MiB\n",
		o.duration, samples.load, res.LeaderCPU, res.LeaderRSSMiB, res.FollowerCPU, res.FollowerRSS, res.brokerFigure(), res.SimCPU, res.SimRSSMiB)
	fmt.Printf("report → state (update published → central's ack, committed through Raft): p50 %.0f ms, p99 %.0f ms (%d reports); nodes marked down: %d; flaps %d\n",
		res.LatP50Ms, res.LatP99Ms, res.LatN, res.FalseDowns, f.flaps.Load())

	if o.churn > 0 {
		if err := f.churnPhase(res, procs); err != nil {
			return res, err
		}
	}
	if o.job {
		if err := f.jobPhase(res, procs, 1); err != nil {
			return res, err
		}
	}
	if o.killBroker != "" {
		if err := f.nodeLossPhase(res, procs); err != nil {
			return res, err
		}
	} else if o.storm {
		if err := f.stormPhase(res, procs); err != nil {
			return res, err
		}
	}
	if o.failover {
		if err := f.failoverPhase(res, procs); err != nil {
			return res, err
		}
	}
	res.BadSignatures, res.Rehellos = f.badSig.Load(), f.rehellos.Load()
	fmt.Printf("simulated agents: %d desired states applied (bad signatures %d, stale %d, malformed %d), %d hellos, %d heartbeats, %d connection losses, %d re-hellos asked\n",
		f.desired.Load(), f.badSig.Load(), f.stale.Load(), f.malformed.Load(), f.hellos.Load(), f.beats.Load(), f.lost.Load(), f.rehellos.Load())
	if f.badSig.Load() > 0 {
		return res, fmt.Errorf("%d desired states failed the signature check", f.badSig.Load())
	}
	return res, nil
}

// fingerprint is the attribute set of a Raspberry Pi 4 agent (its hello's
// size is what central stores per node).
func fingerprint() map[string]string {
	return map[string]string{
		"kernel.name": "linux", "kernel.version": "6.6.31+rpt-rpi-v8", "os.name": "debian", "os.version": "12",
		"cpu.arch": "arm64", "cpu.numcores": "4", "cpu.frequency": "1800", "cpu.modelname": "Cortex-A72",
		"cpu.totalcompute": "7200", "memory.totalbytes": "4294967296", "unique.hostname": "pi",
		"unique.network.ip-address": "10.0.0.10", "driver.exec": "1", "driver.wasm": "1",
		"unique.storage.volume": "/dev/mmcblk0p2", "storage.bytestotal": "31000000000", "storage.bytesfree": "20000000000",
		protocol.AttrKeptAllocs: "1", protocol.AttrAllocActions: "1", protocol.AttrEcho: "1",
	}
}

// beatWheel sends each agent's heartbeat once per interval, spread over
// it in 100 ms slots: one goroutine, no timer per agent.
func (f *fleet) beatWheel() {
	slots := max(int(f.o.heartbeat/(100*time.Millisecond)), 1)
	t := time.NewTicker(f.o.heartbeat / time.Duration(slots))
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % slots {
		select {
		case <-f.stopBeat:
			return
		case <-t.C:
		}
		for i := slot; i < len(f.agents); i += slots {
			if a := f.agents[i]; a != nil && a.up.Load() {
				a.beat()
			}
		}
	}
}

// flapLoop makes random agents' tasks fail and restart, at o.flap per
// agent per minute.
func (f *fleet) flapLoop() func() {
	stop := make(chan struct{})
	if f.o.flap <= 0 {
		return func() {}
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		carry := 0.0
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			carry += f.o.flap * float64(len(f.agents)) / 60
			for ; carry >= 1; carry-- {
				a := f.agents[rand.IntN(len(f.agents))]
				a.do(a.flap)
			}
		}
	}()
	return func() { close(stop) }
}

// churnPhase makes o.churn of the agents a minute leave (their session
// closed) and come back o.churnAway later with what they held, for two
// away periods; it counts nodes marked down among those that stayed.
func (f *fleet) churnPhase(res *Result, procs *processes) error {
	phase := 2 * f.o.churnAway
	fmt.Printf("churn: %.1f%% of the simulated agents a minute leave for %s, during %s\n", f.o.churn*100, f.o.churnAway, phase)
	type away struct {
		a    *simAgent
		back time.Time
	}
	var gone []away
	left := map[int]bool{}
	back := &tracker{}
	f.storm.Store(nil)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	end := time.Now().Add(phase)
	carry := 0.0
	returned := 0
	for time.Now().Before(end) || len(gone) > 0 {
		<-t.C
		now := time.Now()
		if now.Before(end.Add(-f.o.churnAway)) {
			carry += f.o.churn * float64(len(f.agents)) / 60
			for ; carry >= 1; carry-- {
				a := f.agents[rand.IntN(len(f.agents))]
				if !a.up.Load() {
					continue
				}
				a.leave()
				left[a.idx] = true
				gone = append(gone, away{a, now.Add(f.o.churnAway)})
			}
		}
		for len(gone) > 0 && !now.Before(gone[0].back) {
			a := gone[0].a
			gone = gone[1:]
			a.start()
			a.do(func() { a.waits[back] = 1 })
			returned++
		}
	}
	if err := waitUntil(5*time.Minute, func() bool { return int(back.n.Load()) >= returned }); err != nil {
		return fmt.Errorf("churn: %d of %d returned simulated agents reconciled: %w", back.n.Load(), returned, err)
	}
	res.ChurnLeft = len(left)
	if l := back.last.Load(); l > 0 {
		res.ChurnBackS = time.Since(time.Unix(0, l)).Seconds() // informative only
	}
	// Every node whose agent stayed must be ready.
	notReady := procs.notReady(func(id string) bool {
		var i int
		fmt.Sscanf(id, "fleet-%d", &i)
		return !left[i]
	})
	res.ChurnFalse = notReady
	fmt.Printf("churn: %d simulated agents left and came back, all reconciled; nodes of agents that stayed not ready: %d\n", len(left), notReady)
	return nil
}

const systemJob = `job "fleet-sys" {
  type        = "system"
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["86400"]
      }
      env {
        ROUND = "%d"
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
`

// jobPhase submits a system job (round 0) or an update of it (round 1: a
// new env, every allocation replaced), timed from submit until central has
// acknowledged every agent's running report of the new version.
func (f *fleet) jobPhase(res *Result, procs *processes, round int) error {
	out, outCPU := &res.SystemJobS, &res.SystemJobCPU
	switch round {
	case 1:
		out, outCPU = &res.UpdateS, &res.UpdateCPU
	case 2: // after a broker node was lost: the leader's CPU is not kept
		out, outCPU = &res.NodeLossUpdateS, new(float64)
	}
	cpu := procs.leaderCPU()
	defer func() { *outCPU = procs.leaderCPU() - cpu }()
	{
		tr := &tracker{job: "fleet-sys", version: uint64(round)}
		f.phase.Store(tr)
		t0 := time.Now()
		if err := procs.submit(fmt.Sprintf(systemJob, round)); err != nil {
			return fmt.Errorf("submit the system job: %w", err)
		}
		err := waitUntil(10*time.Minute, func() bool { return int(tr.n.Load()) >= f.upCount() })
		f.phase.Store(nil)
		if err != nil {
			fmt.Println(f.diagnose(tr))
			return fmt.Errorf("system job version %d: %d of %d simulated agents running: %w", round, tr.n.Load(), f.upCount(), err)
		}
		*out = time.Unix(0, tr.last.Load()).Sub(t0).Seconds()
		what := "system job on every node: submit → all running"
		switch round {
		case 0:
			res.SystemJobLoad = loadAvg()
		case 1:
			what = "update rolled over every node (all at once): submit → all running"
			res.UpdateLoad = loadAvg()
		default:
			what = "update after the broker node was lost (every desired state still delivered): submit → all running"
		}
		running := procs.jobRunning("fleet-sys")
		fmt.Printf("%s: %.2f s (%d simulated agents; the API counts %d running; leader CPU %.1f s; load %.1f)\n", what, *out, tr.n.Load(), running, procs.leaderCPU()-cpu, loadAvg())
	}
	return nil
}

// diagnose says why agents did not finish a phase.
func (f *fleet) diagnose(tr *tracker) string {
	var notDone, disconnected, waiting, pending, noAlloc int
	for _, a := range f.agents {
		if _, ok := tr.seen.Load(a.idx); ok || !a.up.Load() {
			continue
		}
		notDone++
		if !a.connected.Load() {
			disconnected++
		}
		got := make(chan [3]int, 1)
		a.do(func() {
			w, has := a.waits[tr]
			n := 0
			for _, sa := range a.allocs {
				if sa.up.JobVersion >= tr.version {
					n++
				}
			}
			got <- [3]int{boolInt(has && w > 0), len(a.pending), n}
		})
		select {
		case g := <-got:
			waiting += g[0]
			pending += min(g[1], 1)
			noAlloc += boolInt(g[2] == 0)
		case <-time.After(time.Second):
		}
	}
	return fmt.Sprintf("not done: %d simulated agents (%d disconnected, %d waiting for an ack, %d with unacknowledged updates, %d never got the new allocation)",
		notDone, disconnected, waiting, pending, noAlloc)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *fleet) upCount() int {
	n := 0
	for _, a := range f.agents {
		if a.up.Load() {
			n++
		}
	}
	return n
}

// stormPhase restarts the broker (or drops every connection) and times
// until every agent's new hello is acknowledged.
func (f *fleet) stormPhase(res *Result, procs *processes) error {
	cpu := procs.leaderCPU()
	defer func() { res.StormCPU = procs.leaderCPU() - cpu }()
	st := &tracker{}
	f.storm.Store(st)
	defer f.storm.Store(nil)
	var t0 time.Time
	if f.o.restartBroker != "" {
		res.StormKind = "broker restart"
		cmd := exec.Command("sh", "-c", f.o.restartBroker)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		restarted := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("restart the broker (%s): %w", f.o.restartBroker, err)
		}
		// Timed from the broker accepting connections again: how long
		// the broker itself takes to stop and start is not central's.
		if err := waitUntil(2*time.Minute, func() bool { return accepting(f.brokers[0]) }); err != nil {
			return fmt.Errorf("the broker did not accept connections after its restart: %w", err)
		}
		t0 = time.Now()
		res.StormBrokerDownS = t0.Sub(restarted).Seconds()
	} else {
		res.StormKind = "all agents reconnect"
		var wg sync.WaitGroup
		for _, a := range f.agents {
			wg.Add(1)
			go func() { defer wg.Done(); a.leave() }()
		}
		wg.Wait()
		t0 = time.Now()
		for _, a := range f.agents {
			a.start()
		}
	}
	if err := waitUntil(10*time.Minute, func() bool { return int(st.n.Load()) >= len(f.agents) }); err != nil {
		return fmt.Errorf("reconnect storm: %d of %d simulated agents reconciled: %w", st.n.Load(), len(f.agents), err)
	}
	res.StormS = time.Unix(0, st.last.Load()).Sub(t0).Seconds()
	res.StormLoad = loadAvg()
	stats := procs.leaderStats()
	res.InboxPeak, res.InboxDropped = stats["inbox_peak"], stats["inbox_dropped"]
	fmt.Printf("reconnect storm (%s, broker back after %.1f s): %d simulated agents reconnected and holding central's desired state (hello acknowledged or desired state re-published) %.2f s after the broker accepted connections again (load %.1f); the leader's inbox held at most %d messages, dropped %d\n",
		res.StormKind, res.StormBrokerDownS, st.n.Load(), res.StormS, res.StormLoad, res.InboxPeak, res.InboxDropped)
	return nil
}

// nodeLossPhase kills one node of a clustered broker (-kill-broker) with
// the fleet on it, and measures what a clustered broker promises: every
// agent that was on that node moves to another (its new hello
// acknowledged), no allocation is stopped or started, no node is marked
// down, and a job update afterwards still reaches every node.
func (f *fleet) nodeLossPhase(res *Result, procs *processes) error {
	res.StormKind = "one broker node killed"
	downs0 := procs.nodesDown()
	starts0, stops0 := f.allocStarts.Load(), f.allocStops.Load()
	reconn0 := make([]uint64, len(f.agents))
	for i, a := range f.agents {
		reconn0[i] = a.reconnects.Load()
	}
	st := &tracker{}
	f.storm.Store(st)
	t0 := time.Now()
	cmd := exec.Command("sh", "-c", f.o.killBroker)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		f.storm.Store(nil)
		return fmt.Errorf("kill a broker node (%s): %w", f.o.killBroker, err)
	}
	// An agent moved when it lost its connection: it counts as back once
	// connected again with its new hello acknowledged.
	moved := func() (n int, all bool) {
		all = true
		for i, a := range f.agents {
			if !a.connected.Load() {
				all = false
				n++
			} else if a.reconnects.Load() > reconn0[i] {
				n++
			}
		}
		return n, all
	}
	err := waitUntil(5*time.Minute, func() bool {
		n, all := moved()
		return n > 0 && all && int(st.n.Load()) >= n
	})
	f.storm.Store(nil)
	n, _ := moved()
	if err != nil {
		return fmt.Errorf("broker node lost: %d simulated agents moved, %d of them back: %w", n, st.n.Load(), err)
	}
	res.NodeLossMoved = n
	res.NodeLossS = time.Unix(0, st.last.Load()).Sub(t0).Seconds()
	res.StormLoad = loadAvg()
	fmt.Printf("broker node lost: %d simulated agents were on it; all moved to another node and had their new hello acknowledged %.2f s after the kill (load %.1f); watching %s for nodes marked down\n",
		n, res.NodeLossS, res.StormLoad, f.o.ttl+5*time.Second)
	deadline := time.Now().Add(f.o.ttl + 5*time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	res.NodeLossRestarts = int(f.allocStarts.Load() - starts0 + f.allocStops.Load() - stops0)
	res.NodeLossDowns = max(int(procs.nodesDown()-downs0), procs.notReady(func(string) bool { return true }))
	fmt.Printf("broker node lost: %d allocations stopped or started, %d nodes marked down or not ready\n", res.NodeLossRestarts, res.NodeLossDowns)
	if f.o.job {
		return f.jobPhase(res, procs, 2)
	}
	return nil
}

// failoverPhase kills the leader and times until a write is accepted,
// then waits out the heartbeat TTL and counts nodes marked down.
func (f *fleet) failoverPhase(res *Result, procs *processes) error {
	leader, pid := procs.leader()
	if pid == 0 {
		return errors.New("failover: the leader is not a process on this machine")
	}
	hellos0 := f.rehellos.Load()
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("failover: kill %d: %w", pid, err)
	}
	var rest []string
	for _, c := range f.o.centrals {
		if c != leader {
			rest = append(rest, c)
		}
	}
	for i := 0; ; i++ {
		if err := sim.PostJSON(rest[i%len(rest)]+"/v1/jobs", map[string]string{"hcl": fmt.Sprintf(probeJob, i)}, nil); err == nil {
			break
		}
		if time.Since(t0) > 2*time.Minute {
			return errors.New("failover: no write accepted within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.FailoverS = time.Since(t0).Seconds()
	res.FailoverLoad = loadAvg()
	procs.dropLeader(leader)
	fmt.Printf("failover: kill -9 of the leader → first write accepted: %.2f s (load %.1f); watching %s for nodes marked down\n", res.FailoverS, res.FailoverLoad, f.o.ttl+5*time.Second)
	deadline := time.Now().Add(f.o.ttl + 5*time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	res.FailoverDowns = int(procs.nodesDown())
	notReady := procs.notReady(func(string) bool { return true })
	fmt.Printf("failover: the new leader marked %d nodes down; %d nodes not ready; %d re-hellos asked\n", res.FailoverDowns, notReady, f.rehellos.Load()-hellos0)
	res.FailoverDowns = max(res.FailoverDowns, notReady)
	return nil
}

const probeJob = `job "fleet-probe-%d" {
  type        = "batch"
  datacenters = ["nowhere"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`

func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[min(len(ds)-1, len(ds)*p/100)]) / float64(time.Millisecond)
}

func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// accepting reports whether a broker URL accepts TCP connections.
func accepting(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
