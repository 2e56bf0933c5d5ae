package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tether-edge/tether/central/structs"
)

type fataler interface {
	Helper()
	Fatal(args ...any)
}

// dump renders everything a Reader returns, including each alloc's linked
// job version, so two stores can be compared.
func dump(t fataler, r Reader) string {
	t.Helper()
	type allocJob struct {
		Alloc *structs.Allocation
		Job   any
	}
	var allocs []allocJob
	for _, a := range r.Allocs() {
		allocs = append(allocs, allocJob{a, a.Job})
	}
	var versions []any
	for _, j := range r.Jobs("") {
		versions = append(versions, r.JobVersions(j.Namespace, j.ID))
	}
	idx := map[string]uint64{}
	for _, tb := range append([]string{""}, tables...) {
		idx[tb] = r.Index(tb)
	}
	b, err := json.MarshalIndent(map[string]any{
		"jobs": r.Jobs(""), "versions": versions, "nodes": r.Nodes(), "allocs": allocs,
		"evals": r.Evals(), "pending": r.PendingEvals(), "index": idx, "services": r.Services(""),
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// populate drives a store through every kind of op.
func populate(h *harness) {
	h.mustApply(nodeOp(testNode("n1")), nodeOp(testNode("n2")),
		upsertJob(testJob("web", 2), testEval("e1", "web")), upsertJob(testJob("db", 1), testEval("e2", "db")))
	h.mustApply(upsertJob(testJob("web", 3), nil))
	h.mustApply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n2", "web", 1), testAlloc("a3", "n2", "db", 0)}, nil))
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Seq: 4, Allocs: []AllocClientUpdate{{ID: "a2", ClientStatus: "running",
		TaskStates: map[string]*structs.TaskState{"server": {State: "running", Events: []structs.TaskEvent{{Type: "Started", Time: 3}}}},
		Services:   []*structs.ServiceRegistration{testReg("api", "server", "http", 8080, true), testReg("api", "", "admin", 9090, false)}}}}})
	h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: structs.NodeDisconnected, Now: 9}},
		Op{AllocEvents: &AllocEvents{AllocIDs: []string{"a1"}, Event: structs.AllocEvent{Type: "Lost", Time: 9}, ClientStatus: "unknown"}})
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "db", Eval: testEval("e3", "db")}})
}

func TestSnapshotRestoreGivesIdenticalReads(t *testing.T) {
	h := newHarness(t)
	populate(h)

	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil || !sink.closed {
		t.Fatalf("persist: %v (closed %v)", err, sink.closed)
	}
	snap.Release()

	// Writes after the snapshot are not in it.
	before := dump(t, h.store)
	h.mustApply(nodeOp(testNode("n3")))

	fresh := NewFSM(NewStore(), nil)
	fresh.Store().ApplyDirect(1, &Command{Ops: []Op{nodeOp(testNode("stale"))}}) // replaced wholesale
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if after := dump(t, fresh.Store()); after != before {
		t.Fatalf("restored state differs:\n--- before\n%s\n--- after\n%s", before, after)
	}
	for _, a := range fresh.Store().Allocs() {
		if a.Job == nil || a.Job.ID != a.JobID || a.Job.Version != a.JobVersion {
			t.Fatalf("alloc %s: job not linked after restore", a.ID)
		}
		if a.Job != fresh.Store().JobVersion(a.Namespace, a.JobID, a.JobVersion) {
			t.Errorf("alloc %s: Job is not the stored version object", a.ID)
		}
	}

	// A truncated or corrupt snapshot is refused and leaves the store alone.
	data := sink.Bytes()
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-3],
		"empty":     nil,
		"garbage":   []byte("not cbor at all"),
	} {
		err := fresh.Restore(io.NopCloser(bytes.NewReader(bad)))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err %v, want ErrBadSnapshot", name, err)
		}
	}
	if dump(t, fresh.Store()) != before {
		t.Error("a failed restore changed the store")
	}
}

type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func TestWait(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")))

	// Already past minIndex: returns at once.
	if got := h.store.Wait(context.Background(), TableNodes, 0); got != 1 {
		t.Fatalf("wait on index 0: %d", got)
	}

	got := make(chan uint64, 2)
	go func() { got <- h.store.Wait(context.Background(), TableNodes, 1) }()
	go func() { got <- h.store.Wait(context.Background(), "", 1) }()
	// A write to another table wakes only the "" waiter.
	h.mustApply(upsertJob(testJob("web", 1), nil)) // index 2
	select {
	case v := <-got:
		if v != 2 {
			t.Fatalf("any-table waiter woke with %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("any-table waiter did not wake")
	}
	h.mustApply(nodeOp(testNode("n2"))) // index 3
	select {
	case v := <-got:
		if v != 3 {
			t.Fatalf("nodes waiter woke with %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nodes waiter did not wake")
	}

	// Context cancel ends the wait with the current index.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan uint64)
	go func() { done <- h.store.Wait(ctx, TableAllocs, 100) }()
	cancel()
	select {
	case v := <-done:
		if v != 0 {
			t.Fatalf("cancelled wait returned %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled wait did not return")
	}

	// A restore wakes waiters too.
	snap, _ := h.fsm.Snapshot()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	other := newHarness(t)
	go func() { done <- other.store.Wait(context.Background(), TableNodes, 0) }()
	if err := other.fsm.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-done:
		if v != 3 {
			t.Fatalf("waiter after restore: %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("restore did not wake the waiter")
	}
}

func TestApplyIgnoresNonCommandLogsAndBadData(t *testing.T) {
	f := NewFSM(NewStore(), nil)
	if res := f.Apply(&raft.Log{Index: 1, Type: raft.LogNoop}).(*ApplyResult); res.Err != nil || res.Index != 1 {
		t.Fatalf("noop: %+v", res)
	}
	res := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{0xff, 0x00}}).(*ApplyResult)
	if !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("garbage: %v", res.Err)
	}
	big := make([]byte, MaxCommandSize+1)
	if _, err := DecodeCommand(big); !errors.Is(err, ErrCommandTooLarge) {
		t.Fatalf("too large: %v", err)
	}
}

// TestRaftRoundTrip runs a real single-server raft cluster over the FSM.
func TestRaftRoundTrip(t *testing.T) {
	conf := raft.DefaultConfig()
	conf.LocalID = "s1"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.LogOutput = io.Discard
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	addr, trans := raft.NewInmemTransport("")
	if err := raft.BootstrapCluster(conf, store, store, snaps, trans, raft.Configuration{
		Servers: []raft.Server{{ID: conf.LocalID, Address: addr}},
	}); err != nil {
		t.Fatal(err)
	}
	fsm := NewFSM(NewStore(), nil)
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	eventually(t, 5*time.Second, func() error {
		if r.State() != raft.Leader {
			return errorf("state %v", r.State())
		}
		return nil
	})

	apply := func(ops ...Op) *ApplyResult {
		t.Helper()
		b, err := EncodeCommand(&Command{Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		f := r.Apply(b, 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		res := f.Response().(*ApplyResult)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	apply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), testEval("e1", "web")))
	res := apply(plan([]*structs.Allocation{testAlloc("a1", "n1", "web", 0)}, nil))
	if len(res.NodesChanged) != 1 || res.NodesChanged[0] != "n1" {
		t.Fatalf("NodesChanged via raft: %v", res.NodesChanged)
	}
	if a := fsm.Store().AllocByID("a1"); a == nil || a.Job == nil || a.CreateIndex != res.Index {
		t.Fatalf("alloc via raft: %+v", a)
	}
	want := dump(t, fsm.Store())

	// User snapshot, more writes, then a user restore back to the snapshot.
	sf := r.Snapshot()
	if err := sf.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := sf.Open()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	apply(nodeOp(testNode("n2")))
	if len(fsm.Store().Nodes()) != 2 {
		t.Fatal("write after snapshot missing")
	}
	if err := r.Restore(meta, bytes.NewReader(data), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := dump(t, fsm.Store())
	if got != want {
		t.Fatalf("state after user restore differs:\n%s\n---\n%s", want, got)
	}
	// The cluster still applies after the restore, at a higher index.
	res = apply(nodeOp(testNode("n3")))
	if n := fsm.Store().NodeByID("n3"); n == nil || n.CreateIndex != res.Index || res.Index <= meta.Index {
		t.Fatalf("apply after restore: %+v (snapshot index %d)", n, meta.Index)
	}
	if !strings.Contains(got, `"a1"`) {
		t.Error("dump lacks a1")
	}
}
