package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// The state file is the agent's own, but it survives crashes, full disks
// and people: every reader must treat a record as untrusted bytes.

// fuzzStore opens one store for a whole fuzz run, with syncing off (the
// fuzzer writes thousands of transactions a second).
func fuzzStore(f *testing.F) *Store {
	s, _, err := Open(f.TempDir(), discard())
	if err != nil {
		f.Fatal(err)
	}
	s.db.NoSync, s.db.NoGrowSync = true, true
	f.Cleanup(func() { s.Close() })
	return s
}

var fuzzBuckets = [][]byte{bMeta, bAllocs, bHandles, bOutbox, bOutboxIdx, bServices}

// FuzzStateRecords writes one raw record (bucket, key, value) into the
// state file and runs every reader over it: none may panic; a record that
// fails to decode is skipped or reported with an error wrapping
// protocol.ErrMalformed; and Ack empties the outbox whatever its keys.
func FuzzStateRecords(f *testing.F) {
	s := fuzzStore(f)
	d, _ := protocol.Encode(&protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 3})
	rec, _ := protocol.Encode(&AllocRecord{Alloc: protocol.DesiredAlloc{ID: "a1", JobID: "web"}})
	u, _ := protocol.Encode(&protocol.AllocUpdate{AllocID: "a1", Seq: 1, ClientStatus: protocol.AllocRunning})
	h, _ := protocol.Encode(&drivers.HandleState{Driver: "exec"})
	svc, _ := protocol.Encode(&protocol.ServiceSet{V: protocol.Version, Name: "api"})
	f.Add(byte(0), kDesired, d)
	f.Add(byte(0), kSeq, []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Add(byte(1), []byte("a1"), rec)
	f.Add(byte(2), []byte("a1/web"), h)
	f.Add(byte(3), seqKey(1), u)
	f.Add(byte(3), []byte{1}, u)
	f.Add(byte(4), []byte("a1"), seqKey(1))
	f.Add(byte(5), []byte("api"), svc)
	f.Add(byte(1), []byte("a2"), []byte{0xbf})
	// An alloc of a deployment, and its update with the health verdict.
	recH, _ := protocol.Encode(&AllocRecord{Alloc: protocol.DesiredAlloc{ID: "a1", JobID: "web", DeploymentID: "d1",
		Health: &protocol.HealthPolicy{Mode: protocol.HealthChecks, MinHealthyMs: 10_000, DeadlineMs: 300_000}},
		Client: protocol.AllocUpdate{AllocID: "a1", Health: &protocol.AllocHealth{Healthy: true, Time: 1, DeploymentID: "d1"}}})
	uH, _ := protocol.Encode(&protocol.AllocUpdate{AllocID: "a1", Seq: 2, Health: &protocol.AllocHealth{Reason: "task \"t\" failed", DeploymentID: "d1"}})
	f.Add(byte(1), []byte("a1"), recH)
	f.Add(byte(3), seqKey(2), uH)
	f.Fuzz(func(t *testing.T, bucket byte, key, value []byte) {
		if len(key) == 0 || len(key) > bolt.MaxKeySize {
			return
		}
		b := fuzzBuckets[int(bucket)%len(fuzzBuckets)]
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range fuzzBuckets { // start from an empty file
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			return tx.Bucket(b).Put(key, value)
		})
		if err != nil {
			t.Fatal(err)
		}
		malformed := func(what string, err error) {
			if err != nil && !errors.Is(err, protocol.ErrMalformed) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: error does not wrap protocol.ErrMalformed: %v", what, err)
			}
		}
		_, err = s.Desired()
		malformed("Desired", err)
		_, err = s.Allocs()
		malformed("Allocs", err)
		_, err = s.ServiceSets()
		malformed("ServiceSets", err)
		if _, err := s.Handles("a1"); err != nil {
			t.Fatalf("Handles: %v", err)
		}
		if _, err := s.Outbox(0, 10); err != nil {
			t.Fatalf("Outbox: %v", err)
		}
		if _, err := s.Seq(); err != nil {
			t.Fatalf("Seq: %v", err)
		}
		if _, err := s.Ack(^uint64(0)); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if n := s.OutboxLen(); n != 0 {
			t.Fatalf("outbox holds %d entries after acknowledging everything", n)
		}
		// The store still works after reading the record.
		if _, err := s.RecordUpdate(&protocol.DesiredAlloc{ID: "a9"}, protocol.AllocUpdate{ClientStatus: protocol.AllocRunning}); err != nil {
			t.Fatalf("RecordUpdate after a bad record: %v", err)
		}
	})
}

// FuzzNodeIdentity reads the node-id file: the id it accepts must be one
// the protocol accepts in a topic (or the agent would run unheard), and a
// refusal names the file.
func FuzzNodeIdentity(f *testing.F) {
	s := fuzzStore(f)
	dir := f.TempDir()
	f.Add("2b0c8f1e-6d2a-4c9b-9f1e-0a1b2c3d4e5f\n")
	f.Add("pi kitchen")
	f.Add("")
	f.Add("a/b")
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, NodeIDFile)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		id, err := s.NodeIdentity(dir)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name %s: %v", path, err)
			}
			return
		}
		if !protocol.ValidID(id) {
			t.Fatalf("accepted node id %q, which cannot be used in a topic", id)
		}
	})
}

// FuzzStateFile opens a damaged state file: Open must either read it or
// move it aside and start empty, and the store it returns must work.
func FuzzStateFile(f *testing.F) {
	seedDir := f.TempDir()
	s, _, err := Open(seedDir, discard())
	if err != nil {
		f.Fatal(err)
	}
	s.PutDesired(&protocol.Desired{V: protocol.Version, NodeID: "n1", Index: 3})
	s.RecordUpdate(&protocol.DesiredAlloc{ID: "a1"}, protocol.AllocUpdate{ClientStatus: protocol.AllocRunning})
	s.Close()
	good, err := os.ReadFile(filepath.Join(seedDir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:4096])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, file []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), file, 0o600); err != nil {
			t.Fatal(err)
		}
		s, moved, err := Open(dir, discard())
		if err != nil {
			t.Fatalf("Open of a damaged file: %v (want it moved aside)", err)
		}
		defer s.Close()
		if moved != "" && !strings.Contains(moved, ".corrupt-") {
			t.Fatalf("moved aside to %q", moved)
		}
		if _, err := s.Allocs(); err != nil && !errors.Is(err, protocol.ErrMalformed) {
			t.Fatalf("Allocs: %v", err)
		}
		if _, err := s.RecordUpdate(&protocol.DesiredAlloc{ID: "a9"}, protocol.AllocUpdate{ClientStatus: protocol.AllocRunning}); err != nil {
			t.Fatalf("RecordUpdate on the opened store: %v", err)
		}
	})
}
