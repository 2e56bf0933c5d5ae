package state

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// svcHarness has nodes n1 (dc1) and n2 (dc2), job web, and allocs a1 on n1
// and a2 on n2.
func svcHarness(t *testing.T) *harness {
	h := newHarness(t)
	n2 := testNode("n2")
	n2.Datacenter = "dc2"
	h.mustApply(nodeOp(testNode("n1")), nodeOp(n2), upsertJob(testJob("web", 2), nil))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "web", 0)}, nil))
	return h
}

func report(node, alloc, status string, regs ...*structs.ServiceRegistration) Op {
	return Op{ClientUpdate: &ClientUpdate{NodeID: node, Allocs: []AllocClientUpdate{{ID: alloc, ClientStatus: status, Services: regs}}}}
}

func ids(regs []*structs.ServiceRegistration) []string {
	var out []string
	for _, r := range regs {
		out = append(out, r.ID)
	}
	return out
}

func TestClientUpdateRegistersServicesWithCentralIdentity(t *testing.T) {
	h := svcHarness(t)
	r := testReg("api", "server", "http", 8080, true)
	// The agent claims another node, job and alloc: central ignores them.
	r.NodeID, r.JobID, r.AllocID, r.Datacenter, r.Namespace, r.ID = "evil", "other", "a9", "dcX", "ns", "forged"
	res := h.mustApply(report("n2", "a2", "running", r))
	if !slices.Equal(res.ServicesChanged, []string{"api"}) {
		t.Fatalf("ServicesChanged = %v, want [api]", res.ServicesChanged)
	}
	got := h.store.ServiceByName("default", "api")
	if len(got) != 1 {
		t.Fatalf("api has %d instances, want 1", len(got))
	}
	g := got[0]
	want := structs.ServiceRegistration{ID: "_tether-a2-server-api-http", ServiceName: "api", Namespace: "default", JobID: "web",
		AllocID: "a2", NodeID: "n2", Datacenter: "dc2", Task: "server", PortLabel: "http", Address: "10.0.0.1", Port: 8080,
		Tags: []string{"v1"}, Healthy: true, CreateIndex: res.Index, ModifyIndex: res.Index}
	if g.ID != want.ID || g.NodeID != want.NodeID || g.JobID != want.JobID || g.AllocID != want.AllocID ||
		g.Datacenter != want.Datacenter || g.Namespace != want.Namespace || g.CreateIndex != res.Index {
		t.Errorf("registration = %+v\nwant %+v", *g, want)
	}
	if h.store.Index(TableServices) != res.Index {
		t.Errorf("services index %d, want %d", h.store.Index(TableServices), res.Index)
	}
	if n := len(h.store.ServicesByAlloc("a2")); n != 1 {
		t.Errorf("ServicesByAlloc(a2) = %d, want 1", n)
	}
}

func TestClientUpdateReplacesTheAllocsSet(t *testing.T) {
	h := svcHarness(t)
	first := h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true), testReg("db", "", "", 5432, true)))
	if !slices.Equal(first.ServicesChanged, []string{"api", "db"}) {
		t.Fatalf("ServicesChanged = %v", first.ServicesChanged)
	}

	// The same report again changes nothing and publishes nothing.
	same := h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true), testReg("db", "", "", 5432, true)))
	if len(same.ServicesChanged) != 0 || h.store.Index(TableServices) != first.Index {
		t.Fatalf("repeat: ServicesChanged %v, services index %d (want %d)", same.ServicesChanged, h.store.Index(TableServices), first.Index)
	}

	// Health flips on api; db disappears from the set.
	flip := h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, false)))
	if !slices.Equal(flip.ServicesChanged, []string{"api", "db"}) {
		t.Fatalf("ServicesChanged = %v, want [api db]", flip.ServicesChanged)
	}
	api := h.store.ServiceByName("default", "api")
	if len(api) != 1 || api[0].Healthy || api[0].CreateIndex != first.Index || api[0].ModifyIndex != flip.Index {
		t.Fatalf("api after flip: %+v", api)
	}
	if db := h.store.ServiceByName("", "db"); len(db) != 0 {
		t.Fatalf("db still registered: %v", ids(db))
	}

	// Only the check output changes: stored, but nothing to publish.
	out := testReg("api", "server", "http", 8080, false)
	out.Output = "connection refused"
	res := h.mustApply(report("n1", "a1", "running", out))
	if len(res.ServicesChanged) != 0 || h.store.ServiceByName("default", "api")[0].Output != "connection refused" {
		t.Fatalf("output change: ServicesChanged %v", res.ServicesChanged)
	}

	// Invalid names from an agent are dropped and counted.
	bad := testReg("a/b", "", "", 1, true)
	res = h.mustApply(report("n1", "a1", "running", bad, testReg("api", "server", "http", 8080, false)))
	if res.Ignored != 1 || len(h.store.Services("")) != 1 {
		t.Fatalf("bad name: ignored %d, %d instances", res.Ignored, len(h.store.Services("")))
	}
}

func TestTerminalAllocsLoseTheirServices(t *testing.T) {
	for name, op := range map[string]Op{
		"client complete": report("n1", "a1", "complete", testReg("api", "server", "http", 8080, true)),
		"client failed":   report("n1", "a1", "failed"),
		"plan stop lost":  plan(nil, []*structs.Allocation{{ID: "a1", DesiredStatus: "stop", ClientStatus: "lost"}}),
		"events lost":     {AllocEvents: &AllocEvents{AllocIDs: []string{"a1"}, Event: structs.AllocEvent{Type: "Lost"}, ClientStatus: "lost"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := svcHarness(t)
			h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true)),
				report("n2", "a2", "running", testReg("api", "server", "http", 8080, true)))
			res := h.mustApply(op)
			if !slices.Equal(res.ServicesChanged, []string{"api"}) {
				t.Errorf("ServicesChanged = %v, want [api]", res.ServicesChanged)
			}
			if got := ids(h.store.ServiceByName("default", "api")); !slices.Equal(got, []string{"_tether-a2-server-api-http"}) {
				t.Errorf("api instances %v, want only a2's", got)
			}
		})
	}
}

func TestUnknownAllocsKeepTheirServices(t *testing.T) {
	h := svcHarness(t)
	h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true)))
	res := h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: structs.NodeDisconnected}},
		Op{AllocEvents: &AllocEvents{AllocIDs: []string{"a1"}, Event: structs.AllocEvent{Type: "Disconnected"}, ClientStatus: "unknown"}})
	if len(res.ServicesChanged) != 0 {
		t.Errorf("ServicesChanged = %v, want none", res.ServicesChanged)
	}
	if got := h.store.ServiceByName("default", "api"); len(got) != 1 || !got[0].Healthy {
		t.Fatalf("unknown alloc's instance: %+v", got)
	}
	// A desired stop alone keeps them too, until the agent reports the end.
	h.mustApply(plan(nil, []*structs.Allocation{{ID: "a1", DesiredStatus: "stop"}}))
	if n := len(h.store.ServiceByName("default", "api")); n != 1 {
		t.Fatalf("after desired stop: %d instances, want 1", n)
	}
}

func TestDeleteService(t *testing.T) {
	h := svcHarness(t)
	h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true)))
	id := structs.ServiceID("a1", "server", "api", "http")
	for _, op := range []*DeleteService{
		{Namespace: "default", Name: "api", ID: "nope"},
		{Namespace: "default", Name: "db", ID: id},
		{Namespace: "other", Name: "api", ID: id},
	} {
		if res := h.apply(Op{DeleteService: op}); !errors.Is(res.Err, ErrNotFound) || len(res.ServicesChanged) != 0 {
			t.Errorf("delete %+v: err %v, changed %v; want ErrNotFound and no change", op, res.Err, res.ServicesChanged)
		}
	}
	res := h.mustApply(Op{DeleteService: &DeleteService{Name: "api", ID: id}})
	if !slices.Equal(res.ServicesChanged, []string{"api"}) || len(h.store.Services("")) != 0 {
		t.Fatalf("delete: changed %v, left %v", res.ServicesChanged, ids(h.store.Services("")))
	}
}

func TestServicesListedByNameAndNamespace(t *testing.T) {
	h := svcHarness(t)
	h.mustApply(report("n1", "a1", "running", testReg("web", "", "", 80, true), testReg("api", "server", "http", 8080, true)),
		report("n2", "a2", "running", testReg("api", "server", "http", 8080, false)))
	if got := ids(h.store.Services("")); !slices.Equal(got, []string{"_tether-a1-server-api-http", "_tether-a2-server-api-http", "_tether-a1-group-web-"}) {
		t.Errorf("Services() = %v", got)
	}
	if n := len(h.store.Services("other")); n != 0 {
		t.Errorf("Services(other) = %d", n)
	}
	if n := len(h.store.ServiceByName("", "api")); n != 2 {
		t.Errorf("ServiceByName(*, api) = %d, want 2", n)
	}
	if n := len(h.store.ServiceByName("default", "ap")); n != 0 {
		t.Errorf("ServiceByName(ap) matched a prefix: %d", n)
	}
}

func TestSnapshotKeepsServices(t *testing.T) {
	h := svcHarness(t)
	h.mustApply(report("n1", "a1", "running", testReg("api", "server", "http", 8080, true)))
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := NewFSM(NewStore(), nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got := fresh.Store().ServiceByName("default", "api")
	if len(got) != 1 || got[0].NodeID != "n1" || fresh.Store().Index(TableServices) != h.store.Index(TableServices) {
		t.Fatalf("restored services %+v index %d", got, fresh.Store().Index(TableServices))
	}
}

func TestRestoresFormat1Snapshots(t *testing.T) {
	var buf bytes.Buffer
	enc := encMode.NewEncoder(&buf)
	for _, v := range []any{&snapHeader{Format: 1, Index: 3}, &snapRecord{Node: testNode("n1")}, &snapRecord{End: true}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	fsm := NewFSM(NewStore(), nil)
	if err := fsm.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatalf("format 1: %v", err)
	}
	if fsm.Store().NodeByID("n1") == nil {
		t.Fatal("node not restored")
	}
	buf.Reset()
	_ = enc.Encode(&snapHeader{Format: snapshotFormat + 1})
	if err := fsm.Restore(io.NopCloser(&buf)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("future format: %v", err)
	}
}
