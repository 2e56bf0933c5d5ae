package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// withDisconnect gives every group of the job a disconnect block.
func withDisconnect(lostAfter time.Duration, replace bool, reconcile string) func(*jobspec.Job) {
	return func(j *jobspec.Job) {
		for _, tg := range j.TaskGroups {
			r := replace
			tg.Disconnect = &jobspec.Disconnect{LostAfter: lostAfter, Replace: &r, Reconcile: reconcile}
		}
	}
}

func disconnected(n *structs.Node) { n.Status = structs.NodeDisconnected }

// alloc builds an alloc for reconcileReconnecting tables.
func ra(id string, idx int, version uint64, score float64, created int64) *structs.Allocation {
	return &structs.Allocation{ID: id, TaskGroup: "web", Index: idx, JobVersion: version, Score: score, CreateTime: created,
		DesiredStatus: "run", ClientStatus: "running"}
}

func ids(as []*structs.Allocation) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	slices.Sort(out)
	return out
}

func TestReconcileReconnectingTable(t *testing.T) {
	started := func(a *structs.Allocation, at int64) *structs.Allocation {
		a.TaskStates = map[string]*structs.TaskState{"t": {State: "running", StartedAt: at}, "nil": nil}
		return a
	}
	cases := []struct {
		name       string
		strategy   string // "" = no disconnect block
		version    uint64 // job version
		orig, repl []*structs.Allocation
		keep, stop []string
	}{
		{"best_score keeps the higher replacement", "best_score", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.3, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.7, 20)}, []string{"r"}, []string{"o"}},
		{"best_score keeps the higher original", "best_score", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.9, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.7, 20)}, []string{"o"}, []string{"r"}},
		{"best_score tie keeps the original", "best_score", 1,
			[]*structs.Allocation{ra("z-orig", 0, 1, 0.5, 30)}, []*structs.Allocation{ra("a-repl", 0, 1, 0.5, 20)}, []string{"z-orig"}, []string{"a-repl"}},
		{"no disconnect block means best_score", "", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.3, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.7, 20)}, []string{"r"}, []string{"o"}},
		{"keep_original ignores score", "keep_original", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.1, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.9, 20)}, []string{"o"}, []string{"r"}},
		{"keep_replacement ignores score", "keep_replacement", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.9, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.1, 20)}, []string{"r"}, []string{"o"}},
		{"keep_replacement keeps the newest of a chain", "keep_replacement", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.9, 10)}, []*structs.Allocation{ra("r1", 0, 1, 0.9, 20), ra("r2", 0, 1, 0.1, 30)}, []string{"r2"}, []string{"o", "r1"}},
		{"longest_running keeps the earliest start", "longest_running", 1,
			[]*structs.Allocation{started(ra("o", 0, 1, 0.1, 10), 100)}, []*structs.Allocation{started(ra("r", 0, 1, 0.9, 20), 200)}, []string{"o"}, []string{"r"}},
		{"longest_running falls back to create time", "longest_running", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.1, 300)}, []*structs.Allocation{started(ra("r", 0, 1, 0.9, 20), 200)}, []string{"r"}, []string{"o"}},
		{"longest_running tie keeps the original", "longest_running", 1,
			[]*structs.Allocation{started(ra("o", 0, 1, 0.1, 10), 100)}, []*structs.Allocation{started(ra("r", 0, 1, 0.9, 20), 100)}, []string{"o"}, []string{"r"}},
		{"newest version beats keep_original", "keep_original", 2,
			[]*structs.Allocation{ra("o", 0, 1, 0.9, 10)}, []*structs.Allocation{ra("r", 0, 2, 0.1, 20)}, []string{"r"}, []string{"o"}},
		{"newest version beats best_score", "best_score", 2,
			[]*structs.Allocation{ra("o", 0, 1, 0.9, 10)}, []*structs.Allocation{ra("r", 0, 2, 0.1, 20)}, []string{"r"}, []string{"o"}},
		{"newer original beats keep_replacement", "keep_replacement", 2,
			[]*structs.Allocation{ra("o", 0, 2, 0.1, 10)}, []*structs.Allocation{ra("r", 0, 1, 0.9, 20)}, []string{"o"}, []string{"r"}},
		{"original alone is kept", "best_score", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.1, 10)}, nil, []string{"o"}, nil},
		{"replacements of other slots are untouched", "best_score", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.1, 10)}, []*structs.Allocation{ra("r0", 0, 1, 0.9, 20), ra("r1", 1, 1, 0.9, 20)}, []string{"r0"}, []string{"o"}},
		{"slots are independent", "best_score", 1,
			[]*structs.Allocation{ra("o0", 0, 1, 0.1, 10), ra("o1", 1, 1, 0.9, 10)},
			[]*structs.Allocation{ra("r0", 0, 1, 0.5, 20), ra("r1", 1, 1, 0.5, 20)}, []string{"o1", "r0"}, []string{"o0", "r1"}},
		{"an alloc in both lists counts as original", "keep_replacement", 1,
			[]*structs.Allocation{ra("o", 0, 1, 0.1, 10)}, []*structs.Allocation{ra("o", 0, 1, 0.1, 10), ra("r", 0, 1, 0.1, 20)}, []string{"r"}, []string{"o"}},
		{"nil entries are skipped", "best_score", 1,
			[]*structs.Allocation{nil, ra("o", 0, 1, 0.1, 10)}, []*structs.Allocation{nil}, []string{"o"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := job("web", "service", 2, func(j *jobspec.Job) { j.Version = c.version })
			if c.strategy != "" {
				withDisconnect(time.Minute, true, c.strategy)(j)
			}
			keep, stop := reconcileReconnecting(c.orig, c.repl, j)
			if got := ids(keep); !slices.Equal(got, c.keep) {
				t.Errorf("keep = %v, want %v", got, c.keep)
			}
			if got := ids(stop); !slices.Equal(got, c.stop) {
				t.Errorf("stop = %v, want %v", got, c.stop)
			}
		})
	}
}

func TestReconcileReconnectingNilJob(t *testing.T) {
	keep, stop := reconcileReconnecting([]*structs.Allocation{ra("o", 0, 1, 0.1, 1)}, []*structs.Allocation{ra("r", 0, 1, 0.2, 2)}, nil)
	if !slices.Equal(ids(keep), []string{"r"}) || !slices.Equal(ids(stop), []string{"o"}) {
		t.Errorf("keep %v stop %v, want best_score: keep r, stop o", ids(keep), ids(stop))
	}
}

func TestDisconnectWindow(t *testing.T) {
	f := false
	cases := []struct {
		tg      *jobspec.TaskGroup
		window  time.Duration
		ok      bool
		replace bool
	}{
		{nil, 0, false, true},
		{&jobspec.TaskGroup{}, 0, false, true},
		{&jobspec.TaskGroup{Disconnect: &jobspec.Disconnect{StopOnClientAfter: time.Minute}}, 0, false, true},
		{&jobspec.TaskGroup{Disconnect: &jobspec.Disconnect{LostAfter: time.Hour}}, time.Hour, true, true},
		{&jobspec.TaskGroup{Disconnect: &jobspec.Disconnect{LostAfter: time.Hour, Replace: &f}}, time.Hour, true, false},
	}
	for i, c := range cases {
		w, ok := DisconnectWindow(c.tg)
		if w != c.window || ok != c.ok || replaceOnDisconnect(c.tg) != c.replace {
			t.Errorf("case %d: window %v %v replace %v, want %v %v %v", i, w, ok, replaceOnDisconnect(c.tg), c.window, c.ok, c.replace)
		}
	}
}

// TestMaxClientDisconnectOpensWindow checks that the older
// max_client_disconnect, folded in by Canonicalize, gives a window.
func TestMaxClientDisconnectOpensWindow(t *testing.T) {
	src := `job "j" {
  datacenters = ["dc1"]
  group "g" {
    max_client_disconnect = "90s"
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`
	j, err := jobspec.Parse("j.hcl", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := DisconnectWindow(j.TaskGroups[0]); !ok || w != 90*time.Second {
		t.Errorf("window %v %v, want 90s", w, ok)
	}
	if !replaceOnDisconnect(j.TaskGroups[0]) || reconcileStrategy(j.TaskGroups[0]) != ReconcileBestScore {
		t.Errorf("defaults: replace %v reconcile %q, want true best_score", replaceOnDisconnect(j.TaskGroups[0]), reconcileStrategy(j.TaskGroups[0]))
	}
}

func hasEvent(a *structs.Allocation, typ string) bool {
	return slices.ContainsFunc(a.Events, func(e structs.AllocEvent) bool { return e.Type == typ })
}

func TestDisconnectMarksUnknownAndReplaces(t *testing.T) {
	for _, status := range []string{"running", "pending"} {
		t.Run(status, func(t *testing.T) {
			st := newState()
			st.addNode(node("a", disconnected), node("b"), node("c"))
			j := job("web", "service", 2, withDisconnect(time.Hour, true, ""))
			st.addJob(j)
			a0 := runningAlloc(j, "a0", "a", 0)
			a0.ClientStatus = status
			st.addAlloc(a0, runningAlloc(j, "b1", "b", 1))
			p := mustCompute(t, st, eval(j), opts())
			if len(p.Unknown) != 1 || p.Unknown[0].ID != "a0" || p.Unknown[0].ClientStatus != "unknown" || p.Unknown[0].DesiredStatus != "run" {
				t.Fatalf("Unknown = %+v, want a0 unknown, desired run", p.Unknown)
			}
			if ev := p.Unknown[0].Events; len(ev) != 1 || ev[0].Type != EventDisconnected || ev[0].Time != 1_000 {
				t.Errorf("events %+v, want one Disconnected at 1000", ev)
			}
			if len(p.Stop) != 0 || len(p.Place) != 1 {
				t.Fatalf("stop %d place %d, want 0 and 1", len(p.Stop), len(p.Place))
			}
			r := p.Place[0]
			if r.PreviousAllocation != "a0" || r.Index != 0 || r.NodeID == "a" {
				t.Errorf("replacement %+v, want index 0, previous a0, not on a", r)
			}
			// Once applied, the next evaluation changes nothing.
			st2 := st.applyPlan(p)
			if p2 := mustCompute(t, st2, eval(j), opts()); len(p2.Place)+len(p2.Stop)+len(p2.Unknown) != 0 {
				t.Errorf("second plan place %d stop %d unknown %d, want nothing", len(p2.Place), len(p2.Stop), len(p2.Unknown))
			}
		})
	}
}

func TestDisconnectReplaceFalseHoldsSlot(t *testing.T) {
	st := newState()
	st.addNode(node("a", disconnected), node("b"))
	j := job("web", "service", 1, withDisconnect(time.Hour, false, ""))
	st.addJob(j)
	st.addAlloc(runningAlloc(j, "a0", "a", 0))
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Unknown) != 1 || len(p.Place) != 0 || len(p.Stop) != 0 {
		t.Errorf("unknown %d place %d stop %d, want 1 0 0", len(p.Unknown), len(p.Place), len(p.Stop))
	}
}

func TestLeaderMarkedUnknownStillReplaced(t *testing.T) {
	st := newState()
	st.addNode(node("a", disconnected), node("b"))
	j := job("web", "service", 1, withDisconnect(time.Hour, true, ""))
	st.addJob(j)
	a0 := runningAlloc(j, "a0", "a", 0)
	a0.ClientStatus = "unknown"
	st.addAlloc(a0)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Unknown) != 0 || len(p.Stop) != 0 || len(p.Place) != 1 || p.Place[0].PreviousAllocation != "a0" {
		t.Errorf("unknown %d stop %d place %+v, want only a replacement of a0", len(p.Unknown), len(p.Stop), p.Place)
	}
}

func TestDisconnectWithoutWindowIsLost(t *testing.T) {
	st := newState()
	st.addNode(node("a", disconnected), node("b"))
	j := job("web", "service", 1)
	st.addJob(j)
	st.addAlloc(runningAlloc(j, "a0", "a", 0))
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || p.Stop[0].ClientStatus != "lost" || !hasEvent(p.Stop[0], EventLost) {
		t.Fatalf("stop %+v, want a0 lost", p.Stop)
	}
	if len(p.Place) != 1 || p.Place[0].PreviousAllocation != "a0" || len(p.Unknown) != 0 {
		t.Errorf("place %+v unknown %d, want one replacement of a0", p.Place, len(p.Unknown))
	}
}

func TestDisconnectWindowExpires(t *testing.T) {
	cases := []struct {
		name     string
		now      int64
		replaced bool
		lost     bool
		place    int
	}{
		{"inside the window", int64(time.Minute) + 999, true, false, 0},
		{"expired, replaced", int64(time.Minute) + 1_000, true, true, 0},
		{"expired, not replaced", int64(time.Minute) + 1_000, false, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newState()
			st.addNode(node("a", disconnected), node("b"))
			j := job("web", "service", 1, withDisconnect(time.Minute, c.replaced, ""))
			st.addJob(j)
			a0 := runningAlloc(j, "a0", "a", 0)
			a0.ClientStatus = "unknown"
			a0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 1_000}}
			st.addAlloc(a0)
			if c.replaced {
				r := runningAlloc(j, "r0", "b", 0)
				r.PreviousAllocation = "a0"
				st.addAlloc(r)
			}
			p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("x"), Now: c.now})
			lost := len(p.Stop) == 1 && p.Stop[0].ID == "a0" && p.Stop[0].ClientStatus == "lost"
			if lost != c.lost || len(p.Place) != c.place {
				t.Errorf("stop %+v place %d, want lost=%v place=%d", p.Stop, len(p.Place), c.lost, c.place)
			}
		})
	}
}

// reconnectState is a job whose alloc a0 went unknown on node a and was
// replaced by r0 on node b; a is back and the agent reported a0 running.
func reconnectState(strategy string, origScore, replScore float64, replVersion uint64) (*memState, *jobspec.Job) {
	st := newState()
	st.addNode(node("a"), node("b"))
	j := job("web", "service", 1, withDisconnect(time.Hour, true, strategy), func(j *jobspec.Job) { j.Version = replVersion })
	st.addJob(j)
	a0 := runningAlloc(j, "a0", "a", 0)
	a0.JobVersion, a0.Score = 1, origScore
	a0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 500}}
	r0 := runningAlloc(j, "r0", "b", 0)
	r0.Score, r0.PreviousAllocation, r0.CreateTime = replScore, "a0", 600
	st.addAlloc(a0, r0)
	return st, j
}

func TestReconnectKeepsOriginal(t *testing.T) {
	st, j := reconnectState("", 0.8, 0.4, 1)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || p.Stop[0].ID != "r0" || p.Stop[0].DesiredDescription != DescReconnectNotNeeded {
		t.Fatalf("stop %+v, want r0 with %q", p.Stop, DescReconnectNotNeeded)
	}
	if len(p.Place) != 1 || p.Place[0].ID != "a0" || !hasEvent(p.Place[0], EventReconnected) || len(p.Place[0].Events) != 1 {
		t.Fatalf("place %+v, want a0 updated with one Reconnected event", p.Place)
	}
	st2 := st.applyPlan(p)
	if p2 := mustCompute(t, st2, eval(j), opts()); len(p2.Place)+len(p2.Stop)+len(p2.Unknown) != 0 {
		t.Errorf("after reconnect: place %+v stop %+v, want nothing (no second Reconnected event)", p2.Place, p2.Stop)
	}
}

func TestReconnectKeepsReplacement(t *testing.T) {
	st, j := reconnectState("", 0.2, 0.4, 1)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || p.Stop[0].ID != "a0" || p.Stop[0].DesiredDescription != DescReconnectNotNeeded || len(p.Place) != 0 {
		t.Fatalf("stop %+v place %+v, want only a0 stopped", p.Stop, p.Place)
	}
	st2 := st.applyPlan(p)
	if p2 := mustCompute(t, st2, eval(j), opts()); len(p2.Place)+len(p2.Stop) != 0 {
		t.Errorf("after reconnect: place %+v stop %+v, want nothing", p2.Place, p2.Stop)
	}
}

func TestReconnectNewVersionWins(t *testing.T) {
	st, j := reconnectState(ReconcileKeepOriginal, 0.9, 0.1, 2)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || p.Stop[0].ID != "a0" || len(p.Place) != 0 {
		t.Errorf("stop %+v place %+v, want a0 (old version) stopped", p.Stop, p.Place)
	}
}

func TestReconnectOldVersionWithoutReplacementIsUpdated(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b"))
	j := job("web", "service", 1, withDisconnect(time.Hour, false, ""), func(j *jobspec.Job) { j.Version = 2 })
	old := job("web", "service", 1, withDisconnect(time.Hour, false, ""))
	old.TaskGroups[0].Tasks[0].Env = map[string]string{"V": "1"} // a destructive change
	st.addJob(j)
	a0 := runningAlloc(old, "a0", "a", 0)
	a0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 500}}
	st.addAlloc(a0)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || p.Stop[0].ID != "a0" || p.Stop[0].DesiredDescription != DescUpdating {
		t.Fatalf("stop %+v, want a0 %q", p.Stop, DescUpdating)
	}
	if len(p.Place) != 1 || p.Place[0].PreviousAllocation != "a0" || p.Place[0].JobVersion != 2 {
		t.Errorf("place %+v, want a version 2 replacement of a0", p.Place)
	}
}

func TestReconnectWithoutReplacementRecordsEvent(t *testing.T) {
	st := newState()
	st.addNode(node("a"))
	j := job("web", "service", 1, withDisconnect(time.Hour, false, ""))
	st.addJob(j)
	a0 := runningAlloc(j, "a0", "a", 0)
	a0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 500}}
	st.addAlloc(a0)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 0 || len(p.Place) != 1 || p.Place[0].ID != "a0" || !hasEvent(p.Place[0], EventReconnected) {
		t.Errorf("stop %+v place %+v, want a0 with a Reconnected event", p.Stop, p.Place)
	}
}

func TestUnknownOnReadyNodeWaitsForReport(t *testing.T) {
	st, j := reconnectState("", 0.9, 0.1, 1)
	st.allocs[0].ClientStatus = protocol.AllocUnknown // agent has not reported a0 yet
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place)+len(p.Stop)+len(p.Unknown) != 0 {
		t.Errorf("place %+v stop %+v, want nothing until the agent reports", p.Place, p.Stop)
	}
}

// TestDisconnectReconnectCycle walks one alloc through disconnect, the
// node coming back, and the reconnect choice, applying each plan.
func TestDisconnectReconnectCycle(t *testing.T) {
	for _, strategy := range []string{ReconcileBestScore, ReconcileKeepOriginal, ReconcileKeepReplacement, ReconcileLongestRunning} {
		t.Run(strategy, func(t *testing.T) {
			st := newState()
			st.addNode(node("a"), node("b"), node("c"))
			j := job("web", "service", 3, withDisconnect(time.Hour, true, strategy))
			st.addJob(j)
			st = st.applyPlan(mustCompute(t, st, eval(j), opts()))
			var onA *structs.Allocation
			for _, a := range st.allocs {
				a.ClientStatus = "running"
				if a.NodeID == "a" {
					onA = a
				}
			}
			st.nodes[0].Status = structs.NodeDisconnected
			p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("r"), Now: 2_000})
			if len(p.Unknown) != 1 || len(p.Place) != 1 {
				t.Fatalf("unknown %d place %d, want 1 and 1", len(p.Unknown), len(p.Place))
			}
			st = st.applyPlan(p)
			// The node comes back; the leader sets a0 running again.
			st.nodes[0].Status = structs.NodeReady
			for _, a := range st.allocs {
				a.ClientStatus = "running"
			}
			p = mustCompute(t, st, eval(j), Options{NewID: seqIDs("z"), Now: 3_000})
			if len(p.Stop) != 1 || p.Stop[0].DesiredDescription != DescReconnectNotNeeded {
				t.Fatalf("stop %+v, want one reconnect loser", p.Stop)
			}
			st = st.applyPlan(p)
			liveIdx := map[int]int{}
			for _, a := range st.allocs {
				if live(a) {
					liveIdx[a.Index]++
				}
			}
			if len(liveIdx) != 3 || liveIdx[0] != 1 || liveIdx[1] != 1 || liveIdx[2] != 1 {
				t.Errorf("live allocs per index %v, want one each of 0 1 2", liveIdx)
			}
			kept := st.byID(onA.ID)
			wantOriginal := strategy == ReconcileKeepOriginal || strategy == ReconcileLongestRunning
			if live(kept) != wantOriginal && strategy != ReconcileBestScore {
				t.Errorf("%s: original live = %v, want %v", strategy, live(kept), wantOriginal)
			}
			if live(kept) && !hasEvent(kept, EventReconnected) {
				t.Errorf("kept original has no Reconnected event: %+v", kept.Events)
			}
			if p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("q"), Now: 4_000}); len(p.Place)+len(p.Stop)+len(p.Unknown) != 0 {
				t.Errorf("settled plan place %d stop %d unknown %d, want nothing", len(p.Place), len(p.Stop), len(p.Unknown))
			}
		})
	}
}

func TestSystemDisconnect(t *testing.T) {
	cases := []struct {
		name      string
		window    bool
		status    string
		events    []structs.AllocEvent
		now       int64
		unknown   int
		lost      int
		reconnect bool
		nodeReady bool
	}{
		{"running turns unknown", true, "running", nil, 1_000, 1, 0, false, false},
		{"unknown stays", true, "unknown", []structs.AllocEvent{{Type: EventDisconnected, Time: 900}}, 1_000, 0, 0, false, false},
		{"no window is lost", false, "running", nil, 1_000, 0, 1, false, false},
		{"expired is lost", true, "unknown", []structs.AllocEvent{{Type: EventDisconnected, Time: 900}}, 900 + int64(time.Hour), 0, 1, false, false},
		{"back gets Reconnected", true, "running", []structs.AllocEvent{{Type: EventDisconnected, Time: 900}}, 1_000, 0, 0, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newState()
			n := node("a")
			if !c.nodeReady {
				n.Status = structs.NodeDisconnected
			}
			st.addNode(n)
			mut := func(*jobspec.Job) {}
			if c.window {
				mut = withDisconnect(time.Hour, true, "")
			}
			j := job("agent", "system", 0, mut)
			st.addJob(j)
			a := runningAlloc(j, "s", "a", 0)
			a.ClientStatus, a.Events = c.status, c.events
			st.addAlloc(a)
			p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("x"), Now: c.now})
			lost := 0
			for _, s := range p.Stop {
				if s.ClientStatus == "lost" {
					lost++
				}
			}
			reconnected := len(p.Place) == 1 && p.Place[0].ID == "s" && hasEvent(p.Place[0], EventReconnected)
			if len(p.Unknown) != c.unknown || lost != c.lost || reconnected != c.reconnect {
				t.Errorf("unknown %d lost %d reconnected %v, want %d %d %v (place %+v)", len(p.Unknown), lost, reconnected, c.unknown, c.lost, c.reconnect, p.Place)
			}
		})
	}
}

func TestPlanEventsAreAdditions(t *testing.T) {
	st := newState()
	st.addNode(node("a", func(n *structs.Node) { n.Status = structs.NodeDown }), node("b"))
	j := job("web", "service", 1)
	st.addJob(j)
	a0 := runningAlloc(j, "a0", "a", 0)
	a0.Events = []structs.AllocEvent{{Type: "Earlier", Time: 1}}
	st.addAlloc(a0)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Stop) != 1 || len(p.Stop[0].Events) != 1 || p.Stop[0].Events[0].Type != EventLost {
		t.Errorf("stop events %+v, want only the new Lost event (the state store appends)", p.Stop)
	}
}

// TestReconcileReconnectingProperties checks reconcileReconnecting on
// random slots: nothing is both kept and stopped, each slot with an
// original keeps exactly one alloc, every original is decided, the job's
// newest version wins when present, and a full tie keeps an original.
func TestReconcileReconnectingProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		strategy := rapid.SampledFrom([]string{"", ReconcileBestScore, ReconcileKeepOriginal, ReconcileKeepReplacement, ReconcileLongestRunning}).Draw(rt, "strategy")
		version := rapid.Uint64Range(0, 3).Draw(rt, "version")
		j := job("web", "service", 4, func(j *jobspec.Job) { j.Version = version })
		if strategy != "" {
			withDisconnect(time.Minute, true, strategy)(j)
		}
		gen := func(prefix string, n int) []*structs.Allocation {
			var out []*structs.Allocation
			for i := range n {
				a := ra(fmt.Sprintf("%s%d", prefix, i), rapid.IntRange(0, 3).Draw(rt, "index"),
					rapid.Uint64Range(0, version).Draw(rt, "v"),
					float64(rapid.IntRange(0, 2).Draw(rt, "score"))/2, rapid.Int64Range(0, 3).Draw(rt, "created"))
				if rapid.Bool().Draw(rt, "started") {
					a.TaskStates = map[string]*structs.TaskState{"t": {StartedAt: rapid.Int64Range(1, 3).Draw(rt, "at")}}
				}
				out = append(out, a)
			}
			return out
		}
		orig := gen("o", rapid.IntRange(0, 5).Draw(rt, "originals"))
		repl := gen("r", rapid.IntRange(0, 6).Draw(rt, "replacements"))
		keep, stop := reconcileReconnecting(orig, repl, j)

		decided := map[string]int{}
		for _, a := range keep {
			decided[a.ID]++
		}
		for _, a := range stop {
			if decided[a.ID] > 0 {
				rt.Fatalf("%s both kept and stopped", a.ID)
			}
			decided[a.ID]++
		}
		origSlots := map[int]bool{}
		for _, a := range orig {
			origSlots[a.Index] = true
			if decided[a.ID] != 1 {
				rt.Fatalf("original %s decided %d times", a.ID, decided[a.ID])
			}
		}
		for _, a := range repl {
			if want := map[bool]int{true: 1, false: 0}[origSlots[a.Index]]; decided[a.ID] != want {
				rt.Fatalf("replacement %s (slot %d) decided %d times, want %d", a.ID, a.Index, decided[a.ID], want)
			}
		}
		kept := map[int]*structs.Allocation{}
		for _, a := range keep {
			if kept[a.Index] != nil {
				rt.Fatalf("slot %d keeps %s and %s", a.Index, kept[a.Index].ID, a.ID)
			}
			kept[a.Index] = a
		}
		for idx := range origSlots {
			k := kept[idx]
			if k == nil {
				rt.Fatalf("slot %d keeps nothing", idx)
			}
			var all []*structs.Allocation
			for _, a := range append(slices.Clone(orig), repl...) {
				if a.Index == idx {
					all = append(all, a)
				}
			}
			if slices.ContainsFunc(all, func(a *structs.Allocation) bool { return a.JobVersion == version }) && k.JobVersion != version {
				rt.Fatalf("slot %d keeps version %d though version %d is present", idx, k.JobVersion, version)
			}
			tie := true
			for _, a := range all {
				if a.JobVersion != all[0].JobVersion || a.Score != all[0].Score || startedAt(a) != startedAt(all[0]) {
					tie = false
				}
			}
			if tie && strategy != ReconcileKeepReplacement && k.ID[0] != 'o' {
				rt.Fatalf("slot %d: full tie kept replacement %s, want an original", idx, k.ID)
			}
		}
	})
}

// TestReconnectWhileReplacementAway: a0 comes back while its replacement r0
// is itself on a disconnected node: a0 holds the slot, r0 is neither
// replaced again nor competing, and nothing else is touched.
func TestReconnectWhileReplacementAway(t *testing.T) {
	st := newState()
	st.addNode(node("a"), node("b", disconnected), node("c"))
	j := job("web", "service", 2, withDisconnect(time.Hour, true, ""))
	st.addJob(j)
	a0 := runningAlloc(j, "a0", "a", 0)
	a0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 500}}
	r0 := runningAlloc(j, "r0", "b", 0)
	r0.PreviousAllocation, r0.ClientStatus = "a0", "unknown"
	r0.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: 700}}
	st.addAlloc(a0, r0, runningAlloc(j, "c1", "c", 1))
	p := mustCompute(t, st, eval(j), Options{NewID: seqIDs("x"), Now: 1_000})
	if len(p.Stop) != 0 || len(p.Unknown) != 0 {
		t.Fatalf("stop %+v unknown %+v, want none", p.Stop, p.Unknown)
	}
	if len(p.Place) != 1 || p.Place[0].ID != "a0" || !hasEvent(p.Place[0], EventReconnected) {
		t.Fatalf("place %+v, want only a0's Reconnected event", p.Place)
	}
	// Then b comes back too: one of a0 and r0 survives.
	st = st.applyPlan(p)
	st.nodes[1].Status = structs.NodeReady
	st.byID("r0").ClientStatus = "running"
	p = mustCompute(t, st, eval(j), Options{NewID: seqIDs("y"), Now: 2_000})
	if len(p.Stop) != 1 || p.Stop[0].DesiredDescription != DescReconnectNotNeeded || len(p.Place) > 1 {
		t.Errorf("stop %+v place %+v, want one reconnect loser", p.Stop, p.Place)
	}
}
