package state

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
)

// gcFixture: job "web" (service, stopped, one complete alloc a1 on n1, one
// complete eval) and job "live" (a running alloc a2 on n2, a complete one
// a3 on n2, a pending eval); node n3 down and empty; an expired join token.
func gcFixture(t *testing.T) *harness {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), nodeOp(testNode("n2")), nodeOp(testNode("n3")),
		upsertJob(testJob("web", 1), testEval("e1", "web")), upsertJob(testJob("live", 2), testEval("e2", "live")))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "live", 0), testAlloc("a3", "n2", "live", 0)}, nil))
	done := func(id string) *structs.Evaluation {
		e := testEval(id, "web")
		e.Status = structs.EvalComplete
		return e
	}
	h.mustApply(Op{UpsertEvals: []*structs.Evaluation{done("e1")}})
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "complete"}}}},
		Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Allocs: []AllocClientUpdate{{ID: "a2", ClientStatus: "running"}, {ID: "a3", ClientStatus: "failed"}}}})
	h.mustApply(Op{StopJob: &StopJob{JobID: "web"}})
	h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n3", Status: structs.NodeDown, Now: 1}})
	h.mustApply(Op{Security: &SecurityOp{UpsertJoinToken: &JoinToken{Hash: "old", Expires: 1000}}},
		Op{Security: &SecurityOp{UpsertJoinToken: &JoinToken{Hash: "new", Expires: 9_000_000}}})
	return h
}

func ref(mi uint64, id string) GCRef { return GCRef{ID: id, ModifyIndex: mi} }

func TestGCOpDeletesWhatIsCollectableOnly(t *testing.T) {
	h := gcFixture(t)
	s := h.store
	web, live := s.JobByID("default", "web"), s.JobByID("default", "live")
	a2, a3 := s.AllocByID("a2"), s.AllocByID("a3")
	if web.Status != "dead" || live.Status != "running" {
		t.Fatalf("fixture: web %s, live %s", web.Status, live.Status)
	}
	res := h.mustApply(Op{GC: &GC{
		Jobs: []GCRef{{Namespace: "default", ID: "web", ModifyIndex: web.ModifyIndex},
			{Namespace: "default", ID: "live", ModifyIndex: live.ModifyIndex}}, // live: refused
		Allocs: []GCRef{ref(a2.ModifyIndex, "a2"), ref(a3.ModifyIndex, "a3"), ref(1, "a1")}, // a2 running, a1 gone with web
		Evals:  []GCRef{ref(s.EvalByID("e2").ModifyIndex, "e2")},                            // pending: kept
		Nodes: []GCRef{ref(s.NodeByID("n3").ModifyIndex, "n3"), ref(s.NodeByID("n2").ModifyIndex, "n2"),
			ref(s.NodeByID("n1").ModifyIndex, "n1")}, // n1, n2 ready: kept
		JoinTokens: []string{"old", "new"},
		Now:        2_000_000_000, // 2000 ms: "old" expired, "new" not
	}})
	want := GCCounts{Jobs: 1, JobVersions: 2, Evals: 1, Allocs: 2, Nodes: 1, JoinTokens: 1}
	if res.GC != want {
		t.Fatalf("counts %+v, want %+v", res.GC, want)
	}
	if res.Ignored != 7 {
		t.Errorf("ignored %d, want 7", res.Ignored)
	}
	if s.JobByID("default", "web") != nil || len(s.JobVersions("default", "web")) != 0 || s.AllocByID("a1") != nil || s.EvalByID("e1") != nil {
		t.Error("job web or its alloc, eval or versions survived")
	}
	if s.JobByID("default", "live") == nil || s.AllocByID("a2") == nil || s.EvalByID("e2") == nil {
		t.Error("live job, its running alloc or pending eval was deleted")
	}
	if s.AllocByID("a3") != nil || s.NodeByID("n3") != nil || s.NodeByID("n1") == nil || s.JoinTokenByHash("old") != nil || s.JoinTokenByHash("new") == nil {
		t.Error("wrong alloc, node or join token deleted")
	}
	if got := res.NodesChanged; len(got) != 2 || got[0] != "n1" || got[1] != "n2" {
		t.Errorf("nodes changed %v, want n1 n2 (their desired state is published again)", got)
	}

	// Snapshot and restore see the same smaller state.
	var buf bytes.Buffer
	snap, _ := h.fsm.Snapshot()
	if err := snap.(*fsmSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	db, err := readSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r := reader{db}
	if r.JobByID("default", "web") != nil || r.AllocByID("a3") != nil || len(r.Allocs()) != 1 || r.NodeByID("n3") != nil {
		t.Error("restored state differs from the collected one")
	}
}

func TestGCOpSkipsWhatChangedSinceTheLeaderLooked(t *testing.T) {
	h := gcFixture(t)
	s := h.store
	web := s.JobByID("default", "web")
	a3 := s.AllocByID("a3")
	// The job is submitted again, and a3 reported again, after the leader
	// looked: the stale references must not delete them.
	h.mustApply(upsertJob(testJob("web", 1), nil))
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Allocs: []AllocClientUpdate{{ID: "a3", ClientStatus: "failed", ClientDescription: "again"}}}})
	res := h.mustApply(Op{GC: &GC{
		Jobs:   []GCRef{{Namespace: "default", ID: "web", ModifyIndex: web.ModifyIndex}},
		Allocs: []GCRef{ref(a3.ModifyIndex, "a3")},
	}})
	if res.GC.Total() != 0 || res.Ignored != 2 {
		t.Fatalf("deleted %+v, ignored %d; want nothing deleted, 2 ignored", res.GC, res.Ignored)
	}
	if s.JobByID("default", "web") == nil || s.AllocByID("a3") == nil {
		t.Fatal("changed objects deleted")
	}
}

func TestJobVersionsBoundedByKeepVersions(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		op := upsertJob(testJob("web", i+1), nil)
		op.UpsertJob.KeepVersions = 3
		h.mustApply(op)
	}
	if n := len(h.store.JobVersions("default", "web")); n != 3 {
		t.Fatalf("%d versions kept, want 3", n)
	}
	// Lowering the bound later: a GC prunes to it.
	res := h.mustApply(Op{GC: &GC{PruneVersions: []GCRef{{Namespace: "default", ID: "web"}}, KeepVersions: 1}})
	if n := len(h.store.JobVersions("default", "web")); n != 1 || res.GC.JobVersions != 2 {
		t.Fatalf("%d versions kept (%d pruned), want 1 (2)", n, res.GC.JobVersions)
	}
	if h.store.JobByID("default", "web").Version != 4 {
		t.Fatal("the newest version was pruned")
	}
}

func TestGCOpDeletesExpiredACLTokensOnly(t *testing.T) {
	h := newHarness(t)
	h.mustApply(Op{UpsertACLTokens: []*acl.Token{
		{AccessorID: "old", SecretHash: strings.Repeat("1", 64), Type: acl.TypeManagement, ExpireTime: 1000},
		{AccessorID: "valid", SecretHash: strings.Repeat("2", 64), Type: acl.TypeManagement, ExpireTime: 5000},
		{AccessorID: "forever", SecretHash: strings.Repeat("3", 64), Type: acl.TypeManagement},
	}})
	res := h.mustApply(Op{GC: &GC{ACLTokens: []string{"old", "valid", "forever", "missing"}, Now: 2000}})
	if res.GC.ACLTokens != 1 || res.Ignored != 3 {
		t.Fatalf("deleted %d, ignored %d; want 1 and 3", res.GC.ACLTokens, res.Ignored)
	}
	if h.store.ACLToken("old") != nil || h.store.ACLToken("valid") == nil || h.store.ACLToken("forever") == nil {
		t.Fatal("wrong ACL tokens deleted")
	}
}
