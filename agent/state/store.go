package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// FileName is the state file inside the data dir.
const FileName = "state.db"

// ErrNotFound is returned for a record that is not in the store.
var ErrNotFound = errors.New("state: not found")

var (
	bMeta      = []byte("meta")
	bAllocs    = []byte("allocs")
	bHandles   = []byte("handles")
	bOutbox    = []byte("outbox")     // seq (8 bytes BE) → AllocUpdate
	bOutboxIdx = []byte("outbox_idx") // alloc id → seq of its outbox entry
	bServices  = []byte("services")   // service name → last ServiceSet seen on svc/<name>

	kNodeID  = []byte("node_id")
	kSeq     = []byte("seq")
	kDesired = []byte("desired")
)

// AllocRecord is one allocation as the agent holds it.
type AllocRecord struct {
	Alloc  protocol.DesiredAlloc `cbor:"0,keyasint"`
	Client protocol.AllocUpdate  `cbor:"1,keyasint"` // latest client state
	// ActionSeq is the highest operator action (Alloc.Actions) applied or
	// taken as applied: a reboot does not apply it again.
	ActionSeq uint64 `cbor:"2,keyasint,omitempty"`
}

// Store is the agent's state file.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (or creates) the state file in dataDir. A file bbolt cannot
// open or whose pages fail a consistency check is renamed to
// state.db.corrupt-<unix time> and a new, empty file is created; movedAside
// is then the new path of the old file.
func Open(dataDir string, log *slog.Logger) (s *Store, movedAside string, err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("state: create data dir %s: %w (check -data-dir and its permissions)", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := openChecked(path)
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, "", fmt.Errorf("state: %s is locked by another process: is another agent running with the same -data-dir?", path)
		}
		movedAside = path + ".corrupt-" + strconv.FormatInt(time.Now().Unix(), 10)
		if rerr := os.Rename(path, movedAside); rerr != nil {
			return nil, "", fmt.Errorf("state: %s is unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Error("state file is corrupt: moved aside, starting with empty state; allocations come back from central's retained desired state",
			"file", path, "moved_to", movedAside, "err", err)
		db, err = openChecked(path)
		if err != nil {
			return nil, movedAside, fmt.Errorf("state: create %s: %w", path, err)
		}
	}
	return &Store{db: db, path: path}, movedAside, nil
}

func openChecked(path string) (db *bolt.DB, err error) {
	// bbolt may panic on some corrupt pages, or read through the mmap past
	// the end of the file (a meta page pointing beyond it: SIGBUS, which
	// SetPanicOnFault turns into a panic for this goroutine); a damaged
	// file must not stop the agent from starting.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("state: corrupt file: %v", r)
		}
	}()
	if err := precheck(path); err != nil { // precheck.go
		return nil, err
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// Drain every error: Check reads pages in a goroutine of its own,
		// and returning early would unmap the file under it (SIGSEGV).
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
		for _, b := range [][]byte{bMeta, bAllocs, bHandles, bOutbox, bOutboxIdx, bServices} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func seqKey(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

func put(b *bolt.Bucket, k []byte, v any) error {
	data, err := protocol.Encode(v)
	if err != nil {
		return fmt.Errorf("state: encode %s: %w", k, err)
	}
	return b.Put(k, data)
}

// NodeID returns the node id recorded in the state file, or "".
func (s *Store) NodeID() (id string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bMeta).Get(kNodeID))
		return nil
	})
	return id, err
}

// SetNodeID records the node id.
func (s *Store) SetNodeID(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kNodeID, []byte(id)) })
}

// Seq is the last sequence number handed out.
func (s *Store) Seq() (seq uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kSeq); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// Desired returns the last Desired saved, or ErrNotFound.
func (s *Store) Desired() (*protocol.Desired, error) {
	var d protocol.Desired
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bMeta).Get(kDesired)
		if v == nil {
			return ErrNotFound
		}
		return protocol.DecodeValue(v, &d)
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// PutDesired saves d as the last Desired received.
func (s *Store) PutDesired(d *protocol.Desired) error {
	return s.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(bMeta), kDesired, d) })
}

// Allocs returns every allocation record. Records that fail to decode are
// skipped and reported in the error (the rest are still returned).
func (s *Store) Allocs() ([]AllocRecord, error) {
	var out []AllocRecord
	var errs []error
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAllocs).ForEach(func(k, v []byte) error {
			var r AllocRecord
			if err := protocol.DecodeValue(v, &r); err != nil {
				errs = append(errs, fmt.Errorf("state: alloc %s: %w", k, err))
				return nil
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// PutAlloc saves an allocation record without touching the outbox.
func (s *Store) PutAlloc(r *AllocRecord) error { return s.PutAllocs([]*AllocRecord{r}) }

// PutAllocs saves allocation records in one transaction (one sync of the
// file, however many), without touching the outbox.
func (s *Store) PutAllocs(rs []*AllocRecord) error {
	if len(rs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range rs {
			if err := put(tx.Bucket(bAllocs), []byte(r.Alloc.ID), r); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteAlloc removes an allocation record and its task handles. Its outbox
// entry stays until acknowledged.
func (s *Store) DeleteAlloc(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bAllocs).Delete([]byte(id)); err != nil {
			return err
		}
		return deletePrefix(tx.Bucket(bHandles), []byte(id+"/"))
	})
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// RecordUpdate gives u the next sequence number, saves the allocation record
// (alloc + u) and puts u in the outbox, replacing the alloc's previous
// unacknowledged entry. All in one transaction.
func (s *Store) RecordUpdate(alloc *protocol.DesiredAlloc, u protocol.AllocUpdate) (protocol.AllocUpdate, error) {
	out, err := s.RecordUpdates([]Change{{Alloc: alloc, Update: u}})
	if err != nil {
		return u, err
	}
	return out[0], nil
}

// Change is one allocation's new client state, for RecordUpdates.
type Change struct {
	Alloc  *protocol.DesiredAlloc
	Update protocol.AllocUpdate
	// ActionSeq is kept in the record (AllocRecord.ActionSeq).
	ActionSeq uint64
}

// RecordUpdates records each change as RecordUpdate does, in order, in one
// transaction: many tasks changing state at once cost one sync of the
// file. It returns the updates with their sequence numbers.
func (s *Store) RecordUpdates(cs []Change) ([]protocol.AllocUpdate, error) {
	out := make([]protocol.AllocUpdate, len(cs))
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, ob, idx := tx.Bucket(bMeta), tx.Bucket(bOutbox), tx.Bucket(bOutboxIdx)
		var seq uint64
		if v := meta.Get(kSeq); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		for i, c := range cs {
			seq++
			u := c.Update
			u.Seq = seq
			u.AllocID = c.Alloc.ID
			if old := idx.Get([]byte(u.AllocID)); old != nil {
				if err := ob.Delete(old); err != nil {
					return err
				}
			}
			if err := put(ob, seqKey(seq), &u); err != nil {
				return err
			}
			if err := idx.Put([]byte(u.AllocID), seqKey(seq)); err != nil {
				return err
			}
			if err := put(tx.Bucket(bAllocs), []byte(u.AllocID), &AllocRecord{Alloc: *c.Alloc, Client: u, ActionSeq: c.ActionSeq}); err != nil {
				return err
			}
			out[i] = u
		}
		return meta.Put(kSeq, seqKey(seq))
	})
	return out, err
}

// Outbox returns up to max entries with seq > after, oldest first.
func (s *Store) Outbox(after uint64, max int) ([]protocol.AllocUpdate, error) {
	var out []protocol.AllocUpdate
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOutbox).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			var u protocol.AllocUpdate
			if err := protocol.DecodeValue(v, &u); err != nil {
				continue // unreadable entry: central gets the alloc's next update or the Hello
			}
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

// OutboxLen is the number of unacknowledged entries.
func (s *Store) OutboxLen() (n int) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bOutbox).Stats().KeyN
		return nil
	})
	return n
}

// Ack deletes every outbox entry with seq <= seq and returns how many.
// Keys that are not 8-byte sequence numbers (a damaged file) go too.
func (s *Store) Ack(seq uint64) (n int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		ob, idx := tx.Bucket(bOutbox), tx.Bucket(bOutboxIdx)
		c := ob.Cursor()
		for k, v := c.First(); k != nil && (len(k) != 8 || binary.BigEndian.Uint64(k) <= seq); k, v = c.First() {
			var u protocol.AllocUpdate
			if protocol.DecodeValue(v, &u) == nil && bytes.Equal(idx.Get([]byte(u.AllocID)), k) {
				if err := idx.Delete([]byte(u.AllocID)); err != nil {
					return err
				}
			}
			if err := ob.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func handleKey(allocID, task string) []byte { return []byte(allocID + "/" + task) }

// PutHandle saves the handle of a running task.
func (s *Store) PutHandle(allocID, task string, st drivers.HandleState) error {
	return s.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(bHandles), handleKey(allocID, task), &st) })
}

// DeleteHandle forgets a task's handle (the task exited).
func (s *Store) DeleteHandle(allocID, task string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bHandles).Delete(handleKey(allocID, task)) })
}

// Handles returns the saved handles of an allocation's tasks, by task name.
func (s *Store) Handles(allocID string) (map[string]drivers.HandleState, error) {
	out := map[string]drivers.HandleState{}
	prefix := []byte(allocID + "/")
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bHandles).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var st drivers.HandleState
			if err := protocol.DecodeValue(v, &st); err != nil {
				continue // the task is then treated as gone
			}
			out[string(k[len(prefix):])] = st
		}
		return nil
	})
	return out, err
}
