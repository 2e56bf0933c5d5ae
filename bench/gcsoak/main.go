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
// It drives central/state and central/gc directly (no Raft, no network, no
// scheduler): it measures what the collection keeps, not how fast central
// is. Agent disk usage is the agent's GC, measured elsewhere.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/raft"

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
	svg := flag.String("svg", "", "write a chart of the snapshot size here (SVG)")
	flag.Parse()

	th := gc.Thresholds{Eval: time.Hour, BatchEval: 24 * time.Hour, Job: 4 * time.Hour, Node: 24 * time.Hour,
		JoinToken: time.Hour, ACLToken: time.Hour, KeepVersions: 6}
	with := run(*days, *perHour, *failEvery, &th)
	without := run(*nogcDays, *perHour, *failEvery, nil)

	fmt.Printf("%-6s %14s %8s %8s %8s %10s %16s\n", "day", "snapshot (KB)", "jobs", "allocs", "evals", "heap (MB)", "no GC: snap (KB)")
	for i, p := range with {
		if p.hour%24 != 0 {
			continue
		}
		nogc := ""
		if i < len(without) {
			nogc = fmt.Sprintf("%d", without[i].snapshot/1024)
		}
		fmt.Printf("%-6d %14d %8d %8d %8d %10.1f %16s\n", p.hour/24, p.snapshot/1024, p.jobs, p.allocs, p.evals, float64(p.heap)/(1<<20), nogc)
	}
	lo, hi := flatAfter(with, 48)
	fmt.Printf("\nafter the first 2 days: snapshot between %d and %d KB over %d days (%d batch jobs, %d service failures a day)\n",
		lo/1024, hi/1024, *days, int(*perHour*24), int(24*time.Hour / *failEvery))
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
	jobs, allocs, evals int
	heap                uint64
}

// sim applies commands to a store at increasing indexes.
type sim struct {
	store *state.Store
	index uint64
}

func (s *sim) apply(ops ...state.Op) *state.ApplyResult {
	s.index++
	res := s.store.ApplyDirect(s.index, &state.Command{Ops: ops})
	if res.Err != nil {
		fmt.Fprintln(os.Stderr, "BUG: apply:", res.Err)
		os.Exit(1)
	}
	return res
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
	s := &sim{store: state.NewStore()}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.apply(state.Op{UpsertNode: &structs.Node{ID: "n1", Name: "edge-1", Datacenter: "dc1", Status: structs.NodeReady,
		Drivers: []string{"exec"}, Resources: structs.Resources{CPU: 4000, MemoryMB: 4096}, Eligible: true}})
	now := t0.UnixNano()
	s.apply(state.Op{UpsertJob: &state.UpsertJob{Job: job("flappy", jobspec.JobTypeService), Now: now}})
	current := "flappy-0"
	s.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: "e-flappy-0", Place: []*structs.Allocation{alloc(current, "flappy", "e-flappy-0", "")}},
		Eval: eval("e-flappy-0", "flappy", jobspec.JobTypeService, structs.TriggerJobRegister, now), Now: now}})

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
			s.apply(state.Op{ClientUpdate: &state.ClientUpdate{NodeID: "n1", Now: now + int64(time.Second),
				Allocs: []state.AllocClientUpdate{{ID: a, ClientStatus: "complete"}}}})
		}
		// The service task fails and is replaced.
		for i := range failures {
			fnow := now + int64(time.Duration(i)*failEvery)
			n++
			next, e := fmt.Sprintf("flappy-%d", n), fmt.Sprintf("e-flappy-%d", n)
			s.apply(state.Op{ClientUpdate: &state.ClientUpdate{NodeID: "n1", Now: fnow,
				Allocs: []state.AllocClientUpdate{{ID: current, ClientStatus: "failed", ClientDescription: "exit 1"}}}})
			s.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: e, Place: []*structs.Allocation{alloc(next, "flappy", e, current)}},
				Eval: eval(e, "flappy", jobspec.JobTypeService, structs.TriggerAllocFailure, fnow), Now: fnow}})
			current = next
		}
		if th != nil {
			op := gc.Compute(s.store.Snapshot(), at.Add(step), *th, false)
			for _, part := range gc.Split(op, 4096) {
				s.apply(state.Op{GC: part})
			}
		}
		if end := t + step; end%(6*time.Hour) == 0 {
			out = append(out, sample(s.store, int(end/time.Hour)))
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
	return point{hour: hour, snapshot: k.n, jobs: len(store.Jobs("")), allocs: len(store.Allocs()), evals: len(store.Evals()), heap: ms.HeapAlloc}
}

// flatAfter returns the smallest and largest snapshot after warm-up hours.
func flatAfter(ps []point, warm int) (lo, hi int64) {
	lo = -1
	for _, p := range ps {
		if p.hour <= warm {
			continue
		}
		if lo < 0 || p.snapshot < lo {
			lo = p.snapshot
		}
		hi = max(hi, p.snapshot)
	}
	return max(lo, 0), hi
}

// chart draws the snapshot size over time: with garbage collection, and
// without it for as long as that was simulated.
func chart(with, without []point) string {
	const w, h, left, bottom, top, right = 720, 360, 70, 40, 30, 20
	maxHour, maxKB := 1, int64(1)
	for _, p := range with {
		maxHour = max(maxHour, p.hour)
		maxKB = max(maxKB, p.snapshot/1024)
	}
	for _, p := range without {
		maxKB = max(maxKB, p.snapshot/1024)
	}
	x := func(hour int) float64 { return left + float64(hour)/float64(maxHour)*(w-left-right) }
	y := func(kb int64) float64 { return h - bottom - float64(kb)/float64(maxKB)*(h-bottom-top) }
	line := func(ps []point, color string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, color)
		for _, p := range ps {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.hour), y(p.snapshot/1024))
		}
		b.WriteString(`"/>` + "\n")
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18">central state snapshot size (KB) over %d simulated days</text>`+"\n", left, maxHour/24)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, h-bottom)
	for d := 0; d <= maxHour/24; d += max(1, maxHour/24/6) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">day %d</text>`+"\n", x(d*24), h-bottom+16, d)
	}
	for i := 0; i <= 4; i++ {
		kb := maxKB * int64(i) / 4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d</text>`+"\n", left-6, y(kb)+4, kb)
	}
	b.WriteString(line(with, "#1f77b4"))
	b.WriteString(line(without, "#d62728"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1f77b4">with garbage collection (default thresholds)</text>`+"\n", left+10, top+14)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d62728">without (first days only)</text>`+"\n", left+10, top+30)
	b.WriteString("</svg>\n")
	return b.String()
}

var _ io.Writer = (*countingWriter)(nil)
