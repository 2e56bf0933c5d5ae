// Command gcsoak runs central's state through an accelerated month of
// work and garbage collection, and prints (and draws) how big the state
// stays:
//
//	go run ./bench/gcsoak -days 30 -svg bench/gcsoak/state.svg
//
// Work, on a simulated clock: short batch jobs (-batch-per-hour, about
// 10,000 a month by default) each placed, run and completed on a node, and
// one service job whose allocation fails every -fail-every and is replaced.
// Every job_gc_interval (5 minutes) the leader's collection runs with the
// default thresholds: central/gc.Compute on a snapshot, the op applied to
// the store as the FSM would. Every 6 simulated hours it records the
// snapshot size (the bytes `central operator snapshot save` would hold),
// the objects held and the Go heap after a collection. The same work with
// no garbage collection runs for -nogc-days for comparison.
//
// It drives central/state and central/gc directly (no network, no
// scheduler): it measures what the collection keeps, not how fast central
// is. The run with GC goes through a real single-server hashicorp/raft
// with central's log store (raft-boltdb, fsync off: sizes do not depend
// on it), file snapshot store (2 kept) and trailing logs (10,240), an
// in-memory transport, and a snapshot every 8,192 entries as central's
// threshold takes one; every sample adds the Raft directory's size on
// disk and this process's RSS (it holds the state store and Raft: the
// part of central's memory the state makes).
//
// The agent is simulated (-agent-*): one node's allocation directories,
// each -alloc-kb when placed plus -batch-log-kb or -service-log-kb of logs
// when it ends, kept and removed by the agent's own rules
// (agent/allocgc.Select with gc_max_allocs 50, checked at every start and
// end, and the "collected" rule: a finished allocation central no longer
// holds goes at the next check). No files are written; the figure is the
// sum of the directories those rules keep.
package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/tether-edge/tether/agent/allocgc"

	"github.com/tether-edge/tether/central/gc"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func main() {
	days := flag.Int("days", 30, "simulated days")
	nogcDays := flag.Int("nogc-days", 3, "simulated days of the same work without garbage collection")
	perHour := flag.Float64("batch-per-hour", 14, "short batch jobs per hour (14/h is about 10,000 a month)")
	failEvery := flag.Duration("fail-every", 10*time.Second, "the service task fails and is replaced this often")
	svg := flag.String("svg", "", "write a chart of the four series here (SVG)")
	allocKB := flag.Int("alloc-kb", 24, "simulated agent: an allocation directory's size when placed (its six directories)")
	batchLogKB := flag.Int("batch-log-kb", 4, "simulated agent: logs a short batch allocation leaves")
	svcLogKB := flag.Int("service-log-kb", 64, "simulated agent: logs a failed service allocation leaves")
	flag.Parse()
	agentSizes = [3]uint64{uint64(*allocKB) << 10, uint64(*batchLogKB) << 10, uint64(*svcLogKB) << 10}

	th := gc.Thresholds{Eval: time.Hour, BatchEval: 24 * time.Hour, Job: 4 * time.Hour, Node: 24 * time.Hour,
		JoinToken: time.Hour, ACLToken: time.Hour, KeepVersions: 6}
	with := run(*days, *perHour, *failEvery, &th)
	without := run(*nogcDays, *perHour, *failEvery, nil)

	fmt.Printf("%-6s %14s %10s %9s %12s %8s %8s %8s %10s %16s\n", "day", "snapshot (KB)", "raft (KB)", "RSS (MB)", "agent (KB)", "jobs", "allocs", "evals", "heap (MB)", "no GC: snap (KB)")
	for i, p := range with {
		if p.hour%24 != 0 {
			continue
		}
		nogc := ""
		if i < len(without) {
			nogc = fmt.Sprintf("%d", without[i].snapshot/1024)
		}
		fmt.Printf("%-6d %14d %10d %9.1f %12d %8d %8d %8d %10.1f %16s\n", p.hour/24, p.snapshot/1024, p.raft/1024, float64(p.rss)/(1<<20), p.agent/1024,
			p.jobs, p.allocs, p.evals, float64(p.heap)/(1<<20), nogc)
	}
	lo, hi := flatAfter(with, 48, func(p point) int64 { return p.snapshot })
	fmt.Printf("\nafter the first 2 days, over %d days (%d batch jobs, %d service failures a day):\n", *days, int(*perHour*24), int(24*time.Hour / *failEvery))
	fmt.Printf("  snapshot     %8d to %8d KB\n", lo/1024, hi/1024)
	lo, hi = flatAfter(with, 48, func(p point) int64 { return p.raft })
	fmt.Printf("  raft dir     %8d to %8d KB\n", lo/1024, hi/1024)
	lo, hi = flatAfter(with, 48, func(p point) int64 { return int64(p.rss) })
	fmt.Printf("  process RSS  %8d to %8d KB\n", lo/1024, hi/1024)
	lo, hi = flatAfter(with, 48, func(p point) int64 { return int64(p.agent) })
	fmt.Printf("  agent disk   %8d to %8d KB (simulated)\n", lo/1024, hi/1024)
	if *svg != "" {
		if err := os.WriteFile(*svg, []byte(chart(with, without)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write svg:", err)
			os.Exit(1)
		}
		fmt.Println("chart:", *svg)
	}
}

// point is one sample.
type point struct {
	hour                int
	snapshot            int64
	raft                int64 // bytes under the Raft directory (0 without Raft)
	rss                 uint64
	agent               uint64 // simulated agent's allocation directories
	jobs, allocs, evals int
	heap                uint64
}

// sim applies commands to a store at increasing indexes: through Raft
// when r is set, else straight to the store.
type sim struct {
	store   *state.Store
	index   uint64
	r       *raft.Raft
	raftDir string
	agent   *agentSim
}

// snapshotThreshold is central's Raft SnapshotThreshold (central/server/raft.go).
const snapshotThreshold = 8192

func (s *sim) apply(ops ...state.Op) *state.ApplyResult {
	s.index++
	if s.r == nil {
		res := s.store.ApplyDirect(s.index, &state.Command{Ops: ops})
		if res.Err != nil {
			fail("BUG: apply: %v", res.Err)
		}
		return res
	}
	b, err := state.EncodeCommand(&state.Command{Ops: ops})
	if err != nil {
		fail("encode: %v", err)
	}
	f := s.r.Apply(b, 0)
	if err := f.Error(); err != nil {
		fail("raft apply: %v", err)
	}
	res, _ := f.Response().(*state.ApplyResult)
	if res == nil || res.Err != nil {
		fail("BUG: apply: %+v", res)
	}
	if s.index%snapshotThreshold == 0 {
		if err := s.r.Snapshot().Error(); err != nil {
			fail("raft snapshot: %v", err)
		}
	}
	return res
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// startRaft starts a single-server Raft over store as central opens its
// own (central/server/raft.go), in a temporary directory.
func startRaft(store *state.Store) (*raft.Raft, string, func()) {
	dir, err := os.MkdirTemp("", "gcsoak-raft-")
	if err != nil {
		fail("temp dir: %v", err)
	}
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: true})
	if err != nil {
		fail("raft log: %v", err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		fail("raft snapshots: %v", err)
	}
	addr, trans := raft.NewInmemTransport("")
	rc := raft.DefaultConfig()
	rc.LocalID = "gcsoak"
	rc.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	rc.SnapshotThreshold = 1 << 62 // taken by sim.apply every snapshotThreshold entries
	rc.TrailingLogs = 10240
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	r, err := raft.NewRaft(rc, state.NewFSM(store, nil), logs, logs, snaps, trans)
	if err != nil {
		fail("raft: %v", err)
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: addr}}}).Error(); err != nil {
		fail("bootstrap: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			fail("raft: no leader after 30s")
		}
		<-r.LeaderCh()
	}
	return r, dir, func() {
		_ = r.Shutdown().Error()
		_ = logs.Close()
		_ = os.RemoveAll(dir)
	}
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// rss is this process's resident set (VmRSS), 0 where /proc does not say.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// agentSizes: a placed directory, a batch allocation's logs, a failed
// service allocation's logs (flags).
var agentSizes [3]uint64

// agentSim is one node's allocation directories under the agent's GC
// rules (see the package comment).
type agentSim struct {
	dirs map[string]*adir
	max  int // gc_max_allocs
}

type adir struct {
	live     bool
	finished time.Time
	bytes    uint64
}

func (g *agentSim) place(id string) {
	g.dirs[id] = &adir{live: true, bytes: agentSizes[0]}
	g.maxAllocs()
}

func (g *agentSim) finish(id string, at time.Time, logs uint64) {
	if d := g.dirs[id]; d != nil {
		d.live, d.finished, d.bytes = false, at, d.bytes+logs
	}
	g.maxAllocs()
}

// maxAllocs is the agent's check at every start and end.
func (g *agentSim) maxAllocs() {
	live := 0
	var dirs []allocgc.Dir
	for id, d := range g.dirs {
		if d.live {
			live++
			continue
		}
		dirs = append(dirs, allocgc.Dir{ID: id, Finished: d.finished, Bytes: d.bytes})
	}
	for _, r := range allocgc.Select(allocgc.Policy{MaxAllocs: g.max}, live, dirs, allocgc.Usage{}) {
		delete(g.dirs, r.ID)
	}
}

// collected removes finished allocations central no longer holds.
func (g *agentSim) collected(store *state.Store) {
	for id, d := range g.dirs {
		if !d.live && store.AllocByID(id) == nil {
			delete(g.dirs, id)
		}
	}
}

func (g *agentSim) bytes() uint64 {
	var n uint64
	for _, d := range g.dirs {
		n += d.bytes
	}
	return n
}

func job(id, typ string) *jobspec.Job {
	return &jobspec.Job{ID: id, Name: id, Namespace: "default", Type: typ, Priority: 50, Datacenters: []string{"dc1"},
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec",
			Config: map[string]any{"command": "/bin/true"}, Resources: &jobspec.Resources{CPU: 10, MemoryMB: 16}}}}}}
}

func eval(id, jobID, typ, trigger string, now int64) *structs.Evaluation {
	return &structs.Evaluation{ID: id, Namespace: "default", JobID: jobID, Type: typ, Priority: 50, TriggeredBy: trigger,
		Status: structs.EvalComplete, CreateTime: now, ModifyTime: now}
}

func alloc(id, jobID, evalID string, prev string) *structs.Allocation {
	return &structs.Allocation{ID: id, Namespace: "default", EvalID: evalID, Name: jobID + ".g[0]", NodeID: "n1", NodeName: "edge-1",
		JobID: jobID, TaskGroup: "g", Resources: structs.Resources{CPU: 10, MemoryMB: 16}, DesiredStatus: "run",
		PreviousAllocation: prev}
}

// run simulates days of work; th nil means no garbage collection.
func run(days int, perHour float64, failEvery time.Duration, th *gc.Thresholds) []point {
	s := &sim{store: state.NewStore(), agent: &agentSim{dirs: map[string]*adir{}, max: 50}}
	if th != nil {
		var stop func()
		s.r, s.raftDir, stop = startRaft(s.store)
		defer stop()
		s.index = s.r.LastIndex()
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.apply(state.Op{UpsertNode: &structs.Node{ID: "n1", Name: "edge-1", Datacenter: "dc1", Status: structs.NodeReady,
		Drivers: []string{"exec"}, Resources: structs.Resources{CPU: 4000, MemoryMB: 4096}, Eligible: true}})
	now := t0.UnixNano()
	s.apply(state.Op{UpsertJob: &state.UpsertJob{Job: job("flappy", jobspec.JobTypeService), Now: now}})
	current := "flappy-0"
	s.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: "e-flappy-0", Place: []*structs.Allocation{alloc(current, "flappy", "e-flappy-0", "")}},
		Eval: eval("e-flappy-0", "flappy", jobspec.JobTypeService, structs.TriggerJobRegister, now), Now: now}})
	s.agent.place(current)

	const step = 5 * time.Minute // job_gc_interval
	var out []point
	var batchDebt float64
	n := 0
	failures := int(step / failEvery)
	for t := time.Duration(0); t < time.Duration(days)*24*time.Hour; t += step {
		at := t0.Add(t)
		now := at.UnixNano()
		// Short batch jobs: submitted, placed, completed within the step.
		batchDebt += perHour * step.Hours()
		for ; batchDebt >= 1; batchDebt-- {
			n++
			id := fmt.Sprintf("short-%d", n)
			e, a := "e-"+id, "a-"+id
			ev := eval(e, id, jobspec.JobTypeBatch, structs.TriggerJobRegister, now)
			ev.Status = structs.EvalPending
			s.apply(state.Op{UpsertJob: &state.UpsertJob{Job: job(id, jobspec.JobTypeBatch), Eval: ev, Now: now}})
			s.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: e, Place: []*structs.Allocation{alloc(a, id, e, "")}},
				Eval: eval(e, id, jobspec.JobTypeBatch, structs.TriggerJobRegister, now), Now: now}})
			s.agent.place(a)
			s.apply(state.Op{ClientUpdate: &state.ClientUpdate{NodeID: "n1", Now: now + int64(time.Second),
				Allocs: []state.AllocClientUpdate{{ID: a, ClientStatus: "complete"}}}})
			s.agent.finish(a, at.Add(time.Second), agentSizes[1])
		}
		// The service task fails and is replaced.
		for i := range failures {
			fnow := now + int64(time.Duration(i)*failEvery)
			n++
			next, e := fmt.Sprintf("flappy-%d", n), fmt.Sprintf("e-flappy-%d", n)
			s.apply(state.Op{ClientUpdate: &state.ClientUpdate{NodeID: "n1", Now: fnow,
				Allocs: []state.AllocClientUpdate{{ID: current, ClientStatus: "failed", ClientDescription: "exit 1"}}}})
			s.agent.finish(current, time.Unix(0, fnow), agentSizes[2])
			s.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: e, Place: []*structs.Allocation{alloc(next, "flappy", e, current)}},
				Eval: eval(e, "flappy", jobspec.JobTypeService, structs.TriggerAllocFailure, fnow), Now: fnow}})
			current = next
			s.agent.place(current)
		}
		if th != nil {
			op := gc.Compute(s.store.Snapshot(), at.Add(step), *th, false)
			for _, part := range gc.Split(op, 4096) {
				s.apply(state.Op{GC: part})
			}
			s.agent.collected(s.store) // gc_interval (1m) is shorter than a step
		}
		if end := t + step; end%(6*time.Hour) == 0 {
			p := sample(s.store, int(end/time.Hour))
			if s.r != nil {
				p.raft = dirBytes(s.raftDir)
			}
			p.agent = s.agent.bytes()
			out = append(out, p)
		}
	}
	return out
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// sink is a raft.SnapshotSink that counts bytes.
type sink struct{ countingWriter }

func (*sink) ID() string    { return "gcsoak" }
func (*sink) Cancel() error { return nil }
func (*sink) Close() error  { return nil }

var _ raft.SnapshotSink = (*sink)(nil)

func sample(store *state.Store, hour int) point {
	snap, err := state.NewFSM(store, nil).Snapshot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapshot:", err)
		os.Exit(1)
	}
	var k sink
	if err := snap.Persist(&k); err != nil {
		fmt.Fprintln(os.Stderr, "persist:", err)
		os.Exit(1)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return point{hour: hour, snapshot: k.n, jobs: len(store.Jobs("")), allocs: len(store.Allocs()), evals: len(store.Evals()), heap: ms.HeapAlloc, rss: rss()}
}

// flatAfter returns the smallest and largest of a series after warm-up hours.
func flatAfter(ps []point, warm int, v func(point) int64) (lo, hi int64) {
	lo = -1
	for _, p := range ps {
		if p.hour <= warm {
			continue
		}
		if lo < 0 || v(p) < lo {
			lo = v(p)
		}
		hi = max(hi, v(p))
	}
	return max(lo, 0), hi
}

// chart draws the four series over time, one panel each: the snapshot
// (with the run without garbage collection beside it for as long as that
// was simulated), the Raft directory, the process's RSS and the simulated
// agent's allocation directories.
func chart(with, without []point) string {
	const pw, ph = 460, 260 // one panel
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", 2*pw, 2*ph+30)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", 2*pw, 2*ph+30)
	days := 0
	if len(with) > 0 {
		days = with[len(with)-1].hour / 24
	}
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14">central state GC over %d simulated days (bench/gcsoak): flat after warm-up</text>`+"\n", days)
	kb := func(v int64) float64 { return float64(v) / 1024 }
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	panel(&b, 0, 30, pw, ph, "snapshot (KB)", with, without, func(p point) float64 { return kb(p.snapshot) })
	panel(&b, pw, 30, pw, ph, "Raft directory on disk (MB)", with, nil, func(p point) float64 { return mb(p.raft) })
	panel(&b, 0, 30+ph, pw, ph, "process RSS: state store + Raft (MB)", with, nil, func(p point) float64 { return mb(int64(p.rss)) })
	panel(&b, pw, 30+ph, pw, ph, "simulated agent: allocation dirs (MB)", with, nil, func(p point) float64 { return mb(int64(p.agent)) })
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws one series (and, when given, the run without GC in red)
// in the box at x0, y0.
func panel(b *strings.Builder, x0, y0, w, h int, title string, with, without []point, v func(point) float64) {
	const left, bottom, top, right = 60, 30, 24, 16
	maxHour, maxV := 1, 0.0
	for _, p := range with {
		maxHour = max(maxHour, p.hour)
		maxV = max(maxV, v(p))
	}
	for _, p := range without {
		maxV = max(maxV, v(p))
	}
	if maxV == 0 {
		maxV = 1
	}
	x := func(hour int) float64 { return float64(x0+left) + float64(hour)/float64(maxHour)*float64(w-left-right) }
	y := func(f float64) float64 { return float64(y0+h-bottom) - f/maxV*float64(h-bottom-top) }
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x0+left, y0+16, title)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0+left, y0+h-bottom, x0+w-right, y0+h-bottom)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", x0+left, y0+top, x0+left, y0+h-bottom)
	for d := 0; d <= maxHour/24; d += max(1, maxHour/24/5) {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">day %d</text>`+"\n", x(d*24), y0+h-bottom+16, d)
	}
	for i := 0; i <= 4; i++ {
		f := maxV * float64(i) / 4
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.1f</text>`+"\n", x0+left-6, y(f)+4, f)
	}
	line := func(ps []point, color string) {
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, color)
		for _, p := range ps {
			fmt.Fprintf(b, "%.1f,%.1f ", x(p.hour), y(v(p)))
		}
		b.WriteString(`"/>` + "\n")
	}
	line(with, "#1f77b4")
	if len(without) > 0 {
		line(without, "#d62728")
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#1f77b4">with GC (default thresholds)</text>`+"\n", x0+left+10, y0+top+14)
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#d62728">without (first days only)</text>`+"\n", x0+left+10, y0+top+30)
	}
}

var _ io.Writer = (*countingWriter)(nil)
