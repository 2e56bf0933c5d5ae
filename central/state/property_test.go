package state

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"pgregory.net/rapid"
)

// genOp draws one op over a small ID space, so ops often hit existing
// objects (and sometimes missing ones).
func genOp(t *rapid.T) Op {
	node := rapid.SampledFrom([]string{"n0", "n1", "n2"})
	job := rapid.SampledFrom([]string{"j0", "j1"})
	alloc := rapid.SampledFrom([]string{"a0", "a1", "a2", "a3", "a4", "a5"})
	eval := rapid.SampledFrom([]string{"e0", "e1", "e2"})
	cstatus := rapid.SampledFrom([]string{"", "pending", "running", "complete", "failed", "lost", "unknown", "bogus"})
	mkEval := func() *structs.Evaluation {
		e := testEval(eval.Draw(t, "eval"), job.Draw(t, "evaljob"))
		e.Status = rapid.SampledFrom([]string{"pending", "complete", "blocked", "failed"}).Draw(t, "evalstatus")
		return e
	}
	mkAlloc := func() *structs.Allocation {
		a := testAlloc(alloc.Draw(t, "alloc"), node.Draw(t, "node"), job.Draw(t, "job"), uint64(rapid.IntRange(0, 3).Draw(t, "version")))
		if rapid.Bool().Draw(t, "hasprev") {
			a.PreviousAllocation = alloc.Draw(t, "prev")
		}
		return a
	}
	svc := rapid.SampledFrom([]string{"api", "db"})
	switch rapid.IntRange(0, 9).Draw(t, "kind") {
	case 0:
		var e *structs.Evaluation
		if rapid.Bool().Draw(t, "witheval") {
			e = mkEval()
		}
		return upsertJob(testJob(job.Draw(t, "job"), rapid.IntRange(1, 3).Draw(t, "count")), e)
	case 1:
		return Op{StopJob: &StopJob{Namespace: "default", JobID: job.Draw(t, "job"), Purge: rapid.Bool().Draw(t, "purge")}}
	case 2:
		return nodeOp(testNode(node.Draw(t, "node")))
	case 3:
		return Op{NodeStatus: &NodeStatus{NodeID: node.Draw(t, "node"),
			Status: rapid.SampledFrom([]string{"ready", "down", "disconnected", "bad"}).Draw(t, "nstatus")}}
	case 4:
		return Op{NodeEligibility: &NodeEligibility{NodeID: node.Draw(t, "node"), Eligible: rapid.Bool().Draw(t, "elig")}}
	case 5:
		return Op{UpsertEvals: []*structs.Evaluation{mkEval()}}
	case 6:
		var place, stop []*structs.Allocation
		for i := rapid.IntRange(0, 3).Draw(t, "nplace"); i > 0; i-- {
			place = append(place, mkAlloc())
		}
		for i := rapid.IntRange(0, 2).Draw(t, "nstop"); i > 0; i-- {
			stop = append(stop, &structs.Allocation{ID: alloc.Draw(t, "stop"),
				DesiredStatus: rapid.SampledFrom([]string{"", "stop", "run"}).Draw(t, "dstatus"), ClientStatus: cstatus.Draw(t, "cstatus")})
		}
		var e *structs.Evaluation
		if rapid.Bool().Draw(t, "witheval") {
			e = mkEval()
		}
		return Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{Place: place, Stop: stop}, Eval: e, Now: 1}}
	case 7:
		cu := &ClientUpdate{NodeID: node.Draw(t, "node"), Seq: uint64(rapid.IntRange(0, 9).Draw(t, "seq"))}
		for i := rapid.IntRange(0, 3).Draw(t, "nupd"); i > 0; i-- {
			u := AllocClientUpdate{ID: alloc.Draw(t, "alloc"), ClientStatus: cstatus.Draw(t, "cstatus")}
			for j := rapid.IntRange(0, 2).Draw(t, "nsvc"); j > 0; j-- {
				u.Services = append(u.Services, testReg(svc.Draw(t, "svc"), rapid.SampledFrom([]string{"", "server"}).Draw(t, "task"),
					"http", rapid.IntRange(8080, 8081).Draw(t, "port"), rapid.Bool().Draw(t, "healthy")))
			}
			cu.Allocs = append(cu.Allocs, u)
		}
		return Op{ClientUpdate: cu}
	case 8:
		name, a := svc.Draw(t, "svc"), alloc.Draw(t, "alloc")
		return Op{DeleteService: &DeleteService{Name: name, ID: structs.ServiceID(a, "server", name, "http")}}
	default:
		return Op{AllocEvents: &AllocEvents{AllocIDs: []string{alloc.Draw(t, "alloc")},
			Event: structs.AllocEvent{Type: "Lost", Time: 3}, ClientStatus: cstatus.Draw(t, "cstatus")}}
	}
}

func checkInvariants(t *rapid.T, s Reader, index uint64) {
	used := map[string]map[uint64]bool{}
	for _, a := range s.Allocs() {
		if a.Job == nil || a.Job != s.JobVersion(a.Namespace, a.JobID, a.JobVersion) {
			t.Fatalf("alloc %s: Job not the stored version %d", a.ID, a.JobVersion)
		}
		if used[a.JobID] == nil {
			used[a.JobID] = map[uint64]bool{}
		}
		used[a.JobID][a.JobVersion] = true
	}
	for _, j := range s.Jobs("") {
		if s.JobVersion(j.Namespace, j.ID, j.Version) == nil {
			t.Fatalf("job %s: latest version %d not in job_versions", j.ID, j.Version)
		}
	}
	for _, id := range []string{"j0", "j1"} {
		if n := len(s.JobVersions("default", id)); n > keepJobVersions+len(used[id]) {
			t.Fatalf("job %s keeps %d versions", id, n)
		}
	}
	for _, r := range s.Services("") {
		a := s.AllocByID(r.AllocID)
		switch {
		case a == nil:
			t.Fatalf("service %s: alloc %s does not exist", r.ID, r.AllocID)
		case clientTerminal(a.ClientStatus):
			t.Fatalf("service %s: alloc %s is %s but its instance is registered", r.ID, a.ID, a.ClientStatus)
		case a.NodeID != r.NodeID || a.JobID != r.JobID || a.Namespace != r.Namespace:
			t.Fatalf("service %s: identity %s/%s/%s differs from alloc's", r.ID, r.NodeID, r.JobID, r.Namespace)
		}
	}
	var max uint64
	for _, tb := range tables {
		if i := s.Index(tb); i > index {
			t.Fatalf("table %s index %d beyond %d", tb, i, index)
		} else if i > max {
			max = i
		}
	}
	if s.Index("") != max {
		t.Fatalf("overall index %d, max table index %d", s.Index(""), max)
	}
}

func summary(r *ApplyResult) string {
	var evals []string
	for _, e := range r.EvalsCreated {
		evals = append(evals, e.ID)
	}
	return fmt.Sprint(r.Index, r.Err, r.NodesChanged, evals, r.JobIndex, r.Ignored, r.ServicesChanged)
}

// TestPropertyDeterministicAndRestorable applies random command sequences
// to two stores: both must end identical, every invariant must hold after
// each command, and a snapshot must restore to identical reads.
func TestPropertyDeterministicAndRestorable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := NewFSM(NewStore(), nil), NewFSM(NewStore(), nil)
		n := rapid.IntRange(1, 25).Draw(t, "commands")
		for i := 1; i <= n; i++ {
			var ops []Op
			for k := rapid.IntRange(1, 4).Draw(t, "ops"); k > 0; k-- {
				ops = append(ops, genOp(t))
			}
			data, err := EncodeCommand(&Command{Ops: ops})
			if err != nil {
				t.Fatal(err)
			}
			ca, _ := DecodeCommand(data)
			cb, _ := DecodeCommand(data)
			ra, rb := a.Store().ApplyDirect(uint64(i), ca), b.Store().ApplyDirect(uint64(i), cb)
			if summary(ra) != summary(rb) {
				t.Fatalf("results differ: %s vs %s", summary(ra), summary(rb))
			}
			if !slices.IsSorted(ra.NodesChanged) {
				t.Fatalf("NodesChanged not sorted: %v", ra.NodesChanged)
			}
			checkInvariants(t, a.Store(), uint64(i))
		}
		da := dump(t, a.Store())
		if db := dump(t, b.Store()); da != db {
			t.Fatalf("same log, different state:\n%s\n---\n%s", da, db)
		}
		snap, _ := a.Snapshot()
		sink := &memSink{}
		if err := snap.Persist(sink); err != nil {
			t.Fatal(err)
		}
		c := NewFSM(NewStore(), nil)
		if err := c.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
			t.Fatal(err)
		}
		if dc := dump(t, c.Store()); dc != da {
			t.Fatalf("restored state differs:\n%s\n---\n%s", da, dc)
		}
		checkInvariants(t, c.Store(), uint64(n))
	})
}
