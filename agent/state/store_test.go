package state

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mustOpen opens a store in dir and closes it at the end of the test.
func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, moved, err := Open(dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	if moved != "" {
		t.Fatalf("unexpectedly moved aside: %s", moved)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOutboxCompactionAndAck(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a := &protocol.DesiredAlloc{ID: "a1"}
	b := &protocol.DesiredAlloc{ID: "b1"}
	var last protocol.AllocUpdate
	for i := 0; i < 100; i++ {
		u, err := s.RecordUpdate(a, protocol.AllocUpdate{ClientStatus: protocol.AllocRunning, Description: "n" + string(rune('0'+i%10))})
		if err != nil {
			t.Fatal(err)
		}
		if u.Seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", u.Seq, i+1)
		}
		last = u
	}
	ub, _ := s.RecordUpdate(b, protocol.AllocUpdate{ClientStatus: protocol.AllocPending})
	if n := s.OutboxLen(); n != 2 {
		t.Fatalf("outbox len %d, want 2 (one per alloc)", n)
	}
	got, err := s.Outbox(0, 256)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].AllocID != "a1" || got[0].Seq != last.Seq || got[1].Seq != ub.Seq {
		t.Fatalf("outbox %+v", got)
	}
	if after, _ := s.Outbox(last.Seq, 256); len(after) != 1 || after[0].AllocID != "b1" {
		t.Fatalf("outbox after %d: %+v", last.Seq, after)
	}
	n, err := s.Ack(last.Seq)
	if err != nil || n != 1 {
		t.Fatalf("ack deleted %d (%v), want 1", n, err)
	}
	if left, _ := s.Outbox(0, 10); len(left) != 1 || left[0].AllocID != "b1" {
		t.Fatalf("left %+v", left)
	}
	// A new update for a1 after its ack is a fresh entry.
	if _, err := s.RecordUpdate(a, protocol.AllocUpdate{ClientStatus: protocol.AllocComplete}); err != nil {
		t.Fatal(err)
	}
	if n := s.OutboxLen(); n != 2 {
		t.Fatalf("outbox len %d, want 2", n)
	}
	recs, err := s.Allocs()
	if err != nil || len(recs) != 2 {
		t.Fatalf("allocs %v %v", recs, err)
	}
	if seq, _ := s.Seq(); seq != 102 {
		t.Fatalf("seq %d", seq)
	}
}

func TestOutboxBatchLimit(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	for i := 0; i < 300; i++ {
		if _, err := s.RecordUpdate(&protocol.DesiredAlloc{ID: "a" + strings.Repeat("x", i%7) + string(rune('A'+i%26)) + string(rune('a'+i/26))}, protocol.AllocUpdate{}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Outbox(0, 256)
	if len(got) != 256 {
		t.Fatalf("batch %d, want 256", len(got))
	}
	rest, _ := s.Outbox(got[255].Seq, 256)
	if len(rest) != 44 {
		t.Fatalf("rest %d, want 44", len(rest))
	}
}

func TestPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.NodeIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("node id %q is not a v4 uuid", id)
	}
	d := &protocol.Desired{V: 1, NodeID: id, Index: 42, Allocs: []protocol.DesiredAlloc{{ID: "a1", Tasks: []protocol.Task{{Name: "t", Config: map[string]any{"args": []any{"x"}}}}}}}
	if err := s.PutDesired(d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordUpdate(&d.Allocs[0], protocol.AllocUpdate{ClientStatus: protocol.AllocRunning}); err != nil {
		t.Fatal(err)
	}
	h := drivers.HandleState{Driver: "fake", TaskID: "a1/t", StartedAt: 5, Data: []byte("x")}
	if err := s.PutHandle("a1", "t", h); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := mustOpen(t, dir)
	id2, err := s2.NodeIdentity(dir)
	if err != nil || id2 != id {
		t.Fatalf("node id after reopen %q (%v), want %q", id2, err, id)
	}
	d2, err := s2.Desired()
	if err != nil || d2.Index != 42 || d2.Allocs[0].Tasks[0].Name != "t" {
		t.Fatalf("desired %+v %v", d2, err)
	}
	hs, err := s2.Handles("a1")
	if err != nil || hs["t"].TaskID != "a1/t" || string(hs["t"].Data) != "x" {
		t.Fatalf("handles %+v %v", hs, err)
	}
	if err := s2.DeleteAlloc("a1"); err != nil {
		t.Fatal(err)
	}
	if hs, _ := s2.Handles("a1"); len(hs) != 0 {
		t.Fatalf("handles after delete %+v", hs)
	}
	if recs, _ := s2.Allocs(); len(recs) != 0 {
		t.Fatalf("allocs after delete %+v", recs)
	}
}

func TestNodeIDSurvivesStateLoss(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := Open(dir, discard())
	id, _ := s.NodeIdentity(dir)
	s.Close()
	os.Remove(filepath.Join(dir, FileName))
	s2 := mustOpen(t, dir)
	if id2, _ := s2.NodeIdentity(dir); id2 != id {
		t.Fatalf("id %q after state loss, want %q", id2, id)
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Repeat("garbage!", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, moved, err := Open(dir, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if moved == "" || !strings.Contains(moved, ".corrupt-") {
		t.Fatalf("moved %q", moved)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Desired(); err != ErrNotFound {
		t.Fatalf("desired on empty store: %v", err)
	}
}

func TestServiceSetsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	st, _, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	set := &protocol.ServiceSet{V: protocol.Version, Name: "api", Index: 9, Instances: []protocol.ServiceInstance{{ID: "i1", Address: "10.0.0.1", Port: 80, Healthy: true}}}
	if err := st.PutServiceSet("api", set); err != nil {
		t.Fatal(err)
	}
	if err := st.PutServiceSet("db", &protocol.ServiceSet{V: protocol.Version, Name: "db"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, _, err = Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.ServiceSets()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["api"].Index != 9 || len(got["api"].Instances) != 1 || got["api"].Instances[0].Address != "10.0.0.1" || len(got["db"].Instances) != 0 {
		t.Fatalf("service sets after reopen: %+v", got)
	}
}

// Changes recorded together get consecutive sequence numbers in order, and
// a second change of the same alloc in the batch replaces its outbox entry.
func TestRecordUpdatesInOneTransaction(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a := &protocol.DesiredAlloc{ID: "a1"}
	b := &protocol.DesiredAlloc{ID: "b1"}
	if _, err := s.RecordUpdate(a, protocol.AllocUpdate{ClientStatus: protocol.AllocPending}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecordUpdates([]Change{
		{Alloc: b, Update: protocol.AllocUpdate{ClientStatus: protocol.AllocPending}},
		{Alloc: a, Update: protocol.AllocUpdate{ClientStatus: protocol.AllocRunning}},
		{Alloc: b, Update: protocol.AllocUpdate{ClientStatus: protocol.AllocRunning}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, u := range got {
		seqs = append(seqs, u.Seq)
	}
	if len(got) != 3 || got[0].AllocID != "b1" || got[1].AllocID != "a1" || seqs[0] != 2 || seqs[1] != 3 || seqs[2] != 4 {
		t.Fatalf("recorded %+v (seqs %v), want b1, a1, b1 with seqs 2, 3, 4", got, seqs)
	}
	box, _ := s.Outbox(0, 10)
	if len(box) != 2 || box[0].AllocID != "a1" || box[0].Seq != 3 || box[1].AllocID != "b1" || box[1].Seq != 4 {
		t.Fatalf("outbox %+v, want a1@3 and b1@4", box)
	}
	if seq, _ := s.Seq(); seq != 4 {
		t.Fatalf("seq %d, want 4", seq)
	}
	recs, _ := s.Allocs()
	for _, r := range recs {
		if r.Client.ClientStatus != protocol.AllocRunning {
			t.Errorf("record %s: %s, want running", r.Alloc.ID, r.Client.ClientStatus)
		}
	}
}
