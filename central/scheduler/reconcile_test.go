package scheduler

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func threeNodes() *memState {
	st := newState()
	st.addNode(node("a"), node("b"), node("c"))
	return st
}

func indices(as []*structs.Allocation) []int {
	var out []int
	for _, a := range as {
		out = append(out, a.Index)
	}
	slices.Sort(out)
	return out
}

func TestFreshServiceJob(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 3)
	st.addJob(j)
	p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("x"), Now: 42})
	if len(p.Place) != 3 || len(p.Stop) != 0 {
		t.Fatalf("place %d stop %d, want 3 and 0", len(p.Place), len(p.Stop))
	}
	if on := nodesOf(p); len(on) != 3 {
		t.Errorf("placed on %v, want one per node (anti-affinity)", on)
	}
	a := p.Place[0]
	want := structs.Allocation{
		ID: "x-000001", Namespace: "default", EvalID: "eval-web", Name: "web.web[0]", Index: 0,
		JobID: "web", JobVersion: 1, TaskGroup: "web", Resources: structs.Resources{CPU: 500, MemoryMB: 256},
		DesiredStatus: "run", ClientStatus: "pending", CreateTime: 42, ModifyTime: 42,
	}
	got := *a
	got.NodeID, got.NodeName, got.Job, got.TaskStates, got.Score, got.Metrics = "", "", nil, nil, 0, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alloc =\n%+v\nwant\n%+v", got, want)
	}
	if a.Job != j || a.TaskStates == nil || a.Metrics == nil || a.NodeName != "name-"+a.NodeID {
		t.Errorf("Job/TaskStates/Metrics/NodeName not set: %+v", a)
	}
	if a.Score <= 0 || a.Score > 1 {
		t.Errorf("Score = %v, want in (0, 1]", a.Score)
	}
	if !reflect.DeepEqual(indices(p.Place), []int{0, 1, 2}) {
		t.Errorf("indices %v, want 0 1 2", indices(p.Place))
	}
}

func TestScaleUpFillsLowestFreeIndices(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 4)
	st.addJob(j)
	st.addAlloc(runningAlloc(j, "a0", "a", 0), runningAlloc(j, "a2", "b", 2))
	p := mustCompute(t, st, eval(j), opts())
	if got := indices(p.Place); !reflect.DeepEqual(got, []int{1, 3}) || len(p.Stop) != 0 {
		t.Errorf("placed indices %v, stops %d; want [1 3], 0", got, len(p.Stop))
	}
	for _, a := range p.Place {
		if a.Name != fmt.Sprintf("web.web[%d]", a.Index) {
			t.Errorf("name %q for index %d", a.Name, a.Index)
		}
	}
}

func TestScaleDownStopsHighestIndices(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 1)
	st.addJob(j)
	st.addAlloc(runningAlloc(j, "a0", "a", 0), runningAlloc(j, "a1", "b", 1), runningAlloc(j, "a2", "c", 2))
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || !reflect.DeepEqual(indices(p.Stop), []int{1, 2}) {
		t.Fatalf("place %d, stopped indices %v; want 0 and [1 2]", len(p.Place), indices(p.Stop))
	}
	for _, a := range p.Stop {
		if a.DesiredStatus != "stop" || a.DesiredDescription != DescNotNeeded || a.ClientStatus != "running" || a.ModifyTime != 1000 {
			t.Errorf("stop %s: %+v", a.ID, a)
		}
	}
	if st.byJob["default/web"][1].DesiredStatus != "run" {
		t.Error("Compute modified the state's alloc")
	}
}

func TestNodeDownLostAndReplaced(t *testing.T) {
	st := newState()
	st.addNode(node("a", func(n *structs.Node) { n.Status = structs.NodeDown }), node("b"), node("c"))
	j := job("web", "service", 2)
	st.addJob(j)
	lostByClient := runningAlloc(j, "a1", "b", 1)
	lostByClient.ClientStatus = "lost"
	st.addAlloc(runningAlloc(j, "a0", "a", 0), lostByClient)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 2 || len(p.Place) != 2 {
		t.Fatalf("stop %d place %d, want 2 and 2", len(p.Stop), len(p.Place))
	}
	for _, s := range p.Stop {
		if s.ClientStatus != "lost" || s.DesiredStatus != "stop" || s.DesiredDescription != DescLost {
			t.Errorf("stop %s: client %q desired %q %q", s.ID, s.ClientStatus, s.DesiredStatus, s.DesiredDescription)
		}
		if len(s.Events) != 1 || s.Events[0].Type != EventLost {
			t.Errorf("stop %s events %+v, want one Lost event", s.ID, s.Events)
		}
	}
	prev := map[string]int{}
	for _, a := range p.Place {
		prev[a.PreviousAllocation] = a.Index
		if a.NodeID == "a" {
			t.Errorf("replacement placed on the down node")
		}
	}
	if !reflect.DeepEqual(prev, map[string]int{"a0": 0, "a1": 1}) {
		t.Errorf("replacements %v, want a0→0, a1→1", prev)
	}

	// Applying the plan and evaluating again changes nothing.
	st2 := st.applyPlan(p)
	p2 := mustCompute(t, st2, eval(j), Options{NewID: seqIDs("y")})
	if len(p2.Place) != 0 || len(p2.Stop) != 0 {
		t.Errorf("second pass: place %d stop %d, want nothing", len(p2.Place), len(p2.Stop))
	}
}

func TestAlreadyReplacedLostAllocIsOnlyMarked(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 1)
	st.addJob(j)
	old := runningAlloc(j, "old", "a", 0)
	old.ClientStatus = "lost"
	repl := runningAlloc(j, "new", "b", 0)
	repl.PreviousAllocation = "old"
	st.addAlloc(old, repl)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || len(p.Stop) != 1 || p.Stop[0].ID != "old" {
		t.Errorf("place %d stop %v, want only old stopped", len(p.Place), p.Stop)
	}
}

func TestJobVersionChangeIsDestructive(t *testing.T) {
	st := threeNodes()
	v1 := job("web", "service", 2)
	v2 := job("web", "service", 2, func(j *jobspec.Job) {
		j.Version = 2
		j.TaskGroups[0].Tasks[0].Env = map[string]string{"COLOR": "blue"}
	})
	st.addJob(v2)
	st.addAlloc(runningAlloc(v1, "o0", "a", 0), runningAlloc(v1, "o1", "b", 1))
	p := mustCompute(t, st, eval(v2), opts())
	if len(p.Stop) != 2 || len(p.Place) != 2 {
		t.Fatalf("stop %d place %d, want 2 and 2", len(p.Stop), len(p.Place))
	}
	for _, s := range p.Stop {
		if s.DesiredDescription != DescUpdating {
			t.Errorf("stop desc %q", s.DesiredDescription)
		}
	}
	for _, a := range p.Place {
		if a.JobVersion != 2 || a.Job != v2 || a.PreviousAllocation == "" {
			t.Errorf("placed %+v, want version 2 with a previous alloc", a)
		}
	}
}

func TestCountOnlyChangeIsInPlace(t *testing.T) {
	st := threeNodes()
	v1 := job("web", "service", 2)
	v2 := job("web", "service", 3, func(j *jobspec.Job) { j.Version = 2 })
	st.addJob(v2)
	st.addAlloc(runningAlloc(v1, "o0", "a", 0), runningAlloc(v1, "o1", "b", 1))
	p := mustCompute(t, st, eval(v2), opts())
	if len(p.Stop) != 0 || len(p.Place) != 3 {
		t.Fatalf("stop %d place %d, want 0 and 3 (2 in-place updates + 1 new)", len(p.Stop), len(p.Place))
	}
	updated := 0
	for _, a := range p.Place {
		if a.ID == "o0" || a.ID == "o1" {
			updated++
			if a.JobVersion != 2 || a.Job != v2 || a.ClientStatus != "running" {
				t.Errorf("in-place update %+v", a)
			}
		} else if a.Index != 2 {
			t.Errorf("new alloc index %d, want 2", a.Index)
		}
	}
	if updated != 2 {
		t.Errorf("%d in-place updates, want 2", updated)
	}
}

// A periodic or parameterized parent never runs itself: an evaluation of
// one places nothing, and stops what an earlier, ordinary version left.
func TestParentJobPlacesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*jobspec.Job)
	}{
		{"periodic", func(j *jobspec.Job) { j.Periodic = &jobspec.Periodic{Crons: []string{"* * * * *"}, Enabled: true} }},
		{"periodic disabled", func(j *jobspec.Job) { j.Periodic = &jobspec.Periodic{Crons: []string{"* * * * *"}} }},
		{"parameterized", func(j *jobspec.Job) { j.Parameterized = &jobspec.Parameterized{Payload: "optional"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := threeNodes()
			old := job("cron", "batch", 2)
			st.addAlloc(runningAlloc(old, "r0", "a", 0))
			parent := *old
			tt.mod(&parent)
			st.addJob(&parent)
			p := mustCompute(t, st, eval(&parent), opts())
			if len(p.Place) != 0 || len(p.Stop) != 1 {
				t.Fatalf("place %d stop %d, want 0 and 1", len(p.Place), len(p.Stop))
			}
			if d := p.Stop[0].DesiredDescription; d != DescNotNeeded {
				t.Errorf("stop description %q, want %q", d, DescNotNeeded)
			}
			// A child (ParentID set) of the same shape is scheduled.
			child := parent
			child.ID, child.ParentID = "cron/periodic-1", "cron"
			st.addJob(&child)
			if p := mustCompute(t, st, eval(&child), opts()); len(p.Place) != 2 {
				t.Fatalf("child: place %d, want 2", len(p.Place))
			}
		})
	}
}

func TestJobStopAndMissing(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop bool
		desc string
	}{{"stopped", true, DescJobStopped}, {"missing", false, DescNotNeeded}} {
		t.Run(tt.name, func(t *testing.T) {
			st := threeNodes()
			j := job("web", "service", 2)
			done := runningAlloc(j, "done", "c", 2)
			done.ClientStatus = "complete"
			st.addAlloc(runningAlloc(j, "r0", "a", 0), runningAlloc(j, "r1", "b", 1), done)
			if tt.stop {
				stopped := *j
				stopped.Stop = true
				st.addJob(&stopped)
			}
			p := mustCompute(t, st, eval(j), opts())
			if len(p.Place) != 0 || len(p.Stop) != 2 {
				t.Fatalf("place %d stop %d, want 0 and 2", len(p.Place), len(p.Stop))
			}
			for _, s := range p.Stop {
				if s.DesiredStatus != "stop" || s.DesiredDescription != tt.desc {
					t.Errorf("stop %s: %q %q", s.ID, s.DesiredStatus, s.DesiredDescription)
				}
			}
		})
	}
}

func TestRemovedGroupIsStopped(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 1)
	st.addJob(j)
	gone := runningAlloc(j, "gone", "a", 0)
	gone.TaskGroup = "cache"
	st.addAlloc(runningAlloc(j, "keep", "b", 0), gone)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || len(p.Stop) != 1 || p.Stop[0].ID != "gone" {
		t.Errorf("place %d stop %v, want only gone stopped", len(p.Place), p.Stop)
	}
}

func TestDisconnectedAndUnknownLeftAlone(t *testing.T) {
	st := newState()
	st.addNode(node("a", func(n *structs.Node) { n.Status = structs.NodeDisconnected }), node("b"), node("c"))
	j := job("web", "service", 3, withDisconnect(time.Hour, false, ""))
	st.addJob(j)
	onDisc := runningAlloc(j, "disc", "a", 0)
	onDisc.ClientStatus = "unknown"
	back := runningAlloc(j, "back", "b", 1)
	back.ClientStatus = "unknown"
	st.addAlloc(onDisc, back, runningAlloc(j, "ok", "c", 2))

	allocs := st.AllocsByJob("default", "web")
	s := &sched{st: st, job: j}
	s.nodes = st.nodes
	s.nodeByID = map[string]int{"a": 0, "b": 1, "c": 2}
	r := reconcileGeneric(j, allocs, s.nodeByID, s.nodes, 1_000, "")
	if len(r.disconnecting) != 1 || r.disconnecting[0].ID != "disc" {
		t.Errorf("disconnecting = %v", r.disconnecting)
	}
	if len(r.reconnecting) != 1 || r.reconnecting[0].ID != "back" {
		t.Errorf("reconnecting = %v", r.reconnecting)
	}
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || len(p.Stop) != 0 {
		t.Errorf("place %d stop %d, want nothing", len(p.Place), len(p.Stop))
	}
}

func TestBatchFinishedAllocsNotReplaced(t *testing.T) {
	st := threeNodes()
	j := job("crunch", "batch", 3)
	st.addJob(j)
	done := runningAlloc(j, "done", "a", 0)
	done.ClientStatus = "complete"
	failed := runningAlloc(j, "failed", "b", 1)
	failed.ClientStatus = "failed"
	st.addAlloc(done, failed)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 1 || p.Place[0].Index != 2 || len(p.Stop) != 0 {
		t.Errorf("placed %v stop %d, want only index 2", indices(p.Place), len(p.Stop))
	}
}

func TestServiceFailedAllocRescheduled(t *testing.T) {
	st := threeNodes()
	j := job("web", "service", 2)
	st.addJob(j)
	failed := runningAlloc(j, "failed", "a", 1)
	failed.ClientStatus = "failed"
	st.addAlloc(runningAlloc(j, "ok", "b", 0), failed)
	// The default policy waits 30s (reschedule_test.go has the details):
	// a follow-up evaluation, then the replacement when it runs.
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || len(p.FollowupEvals) != 1 {
		t.Fatalf("placed %+v, %d follow-ups; want nothing placed and one follow-up", p.Place, len(p.FollowupEvals))
	}
	st = applyResched(st, p)
	o := opts()
	o.Now = p.FollowupEvals[0].WaitUntil
	p = mustCompute(t, st, p.FollowupEvals[0], o)
	if len(p.Place) != 1 || p.Place[0].Index != 1 || p.Place[0].PreviousAllocation != "failed" {
		t.Fatalf("placed %+v, want index 1 replacing failed", p.Place)
	}
	p2 := mustCompute(t, applyResched(st, p), eval(j), o)
	if len(p2.Place) != 0 {
		t.Errorf("second pass placed %d, want 0", len(p2.Place))
	}
}

func TestSystemJob(t *testing.T) {
	st := newState()
	st.addNode(
		node("a"), node("b"), node("c"),
		node("arm", func(n *structs.Node) { n.Attributes["cpu.arch"] = "arm64" }),
		node("down", func(n *structs.Node) { n.Status = structs.NodeDown }),
		node("drain", func(n *structs.Node) { n.Drain = true }),
		node("full", func(n *structs.Node) { n.Resources.MemoryMB = 100 }),
	)
	j := job("agent", "system", 0, func(j *jobspec.Job) {
		j.Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}}
	})
	st.addJob(j)
	old := job("agent", "system", 0, func(j *jobspec.Job) { j.Version = 0; j.TaskGroups[0].Tasks[0].Env = map[string]string{"V": "0"} })
	st.addAlloc(
		runningAlloc(j, "keep-a", "a", 0),
		runningAlloc(old, "old-b", "b", 0),
		runningAlloc(j, "on-arm", "arm", 0),
		runningAlloc(j, "on-down", "down", 0),
		runningAlloc(j, "on-drain", "drain", 0),
	)
	p := mustCompute(t, st, eval(j), opts())
	stops := map[string]string{}
	for _, s := range p.Stop {
		stops[s.ID] = s.DesiredDescription
	}
	wantStops := map[string]string{"old-b": DescUpdating, "on-arm": DescNodeInfeasible, "on-down": DescLost, "on-drain": DescNodeInfeasible}
	if !reflect.DeepEqual(stops, wantStops) {
		t.Errorf("stops %v, want %v", stops, wantStops)
	}
	on := nodesOf(p)
	if !reflect.DeepEqual(on, map[string]int{"b": 1, "c": 1}) {
		t.Errorf("placed on %v, want b (update) and c (new)", on)
	}
	for _, a := range p.Place {
		if a.Name != "agent.web[0]" {
			t.Errorf("system alloc name %q", a.Name)
		}
	}
	if p.Queued["web"] != 1 || p.Failed["web"].DimensionExhausted[DimMemory] != 1 {
		t.Errorf("Queued %v Failed %+v, want the full node reported", p.Queued, p.Failed["web"])
	}
	// Applying and re-evaluating only retries the full node.
	p2 := mustCompute(t, st.applyPlan(p), eval(j), opts())
	if len(p2.Place) != 0 || len(p2.Stop) != 0 || p2.Queued["web"] != 1 {
		t.Errorf("second pass place %d stop %d queued %v", len(p2.Place), len(p2.Stop), p2.Queued)
	}
}

func TestSystemJobOnManyNodes(t *testing.T) {
	st := newState()
	for i := range 50 {
		st.addNode(node(fmt.Sprintf("n%02d", i)))
	}
	j := job("agent", "system", 0)
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if on := nodesOf(p); len(p.Place) != 50 || len(on) != 50 {
		t.Errorf("placed %d on %d nodes, want 50 on 50", len(p.Place), len(on))
	}
}

func TestDeterminism(t *testing.T) {
	st := newState()
	for i := range 200 {
		st.addNode(node(fmt.Sprintf("n%03d", i), func(n *structs.Node) {
			n.Resources.CPU = 1000 + 100*(i%7)
			n.Meta["rack"] = fmt.Sprintf("r%d", i%5)
		}))
	}
	j := job("web", "service", 60, func(j *jobspec.Job) {
		j.TaskGroups[0].Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http"}}}}
	})
	st.addJob(j)
	st.addAlloc(runningAlloc(j, "e1", "n005", 0), runningAlloc(j, "e2", "n006", 1))
	p1 := mustCompute(t, st, eval(j), opts())
	// Same input, nodes in another order: same plan.
	st2 := *st
	st2.nodes = slices.Clone(st.nodes)
	slices.Reverse(st2.nodes)
	p2 := mustCompute(t, &st2, eval(j), opts())
	if !reflect.DeepEqual(p1, p2) {
		t.Error("same state and eval gave different plans")
	}
	e := eval(j)
	e.ID = "another-eval"
	p3 := mustCompute(t, st, e, opts())
	if reflect.DeepEqual(nodesOf(p1), nodesOf(p3)) {
		t.Error("a different eval ID gave the same node choice; want a different shuffle")
	}
}

func TestComputeErrors(t *testing.T) {
	st := threeNodes()
	j := job("web", "weird", 1)
	st.addJob(j)
	neg := job("neg", "service", -1)
	st.addJob(neg)
	for _, tt := range []struct {
		name string
		st   State
		e    *structs.Evaluation
		o    Options
		want error
	}{
		{"nil state", nil, eval(j), opts(), ErrNilState},
		{"nil eval", st, nil, opts(), ErrNilEval},
		{"no ids", st, eval(j), Options{}, ErrNoIDFunc},
		{"bad ports", st, eval(j), Options{NewID: seqIDs("x"), PortMin: 5, PortMax: 4}, ErrBadPortRange},
		{"unknown type", st, eval(j), opts(), ErrUnknownJobType},
		{"negative count", st, eval(neg), opts(), ErrBadJob},
	} {
		if _, err := Compute(tt.st, tt.e, tt.o); !errorsIs(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSystemJobLeavesDisconnectedAlone(t *testing.T) {
	st := newState()
	st.addNode(node("a", func(n *structs.Node) { n.Status = structs.NodeDisconnected }), node("b"))
	j := job("agent", "system", 0, withDisconnect(time.Hour, true, ""))
	st.addJob(j)
	unknown := runningAlloc(j, "u", "a", 0)
	unknown.ClientStatus = "unknown"
	back := runningAlloc(j, "back", "b", 0)
	back.ClientStatus = "unknown"
	st.addAlloc(unknown, back)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 0 || len(p.Stop) != 0 {
		t.Errorf("place %v stop %v, want nothing", nodesOf(p), p.Stop)
	}
}
