package state

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
)

// Store is central's in-memory state: jobs (every kept version), nodes,
// allocations and evaluations, indexed in go-memdb. It is written only by
// ApplyDirect (the FSM's Apply) and Restore; reads are safe from any
// goroutine and never block writes.
//
// Values returned by reads are shared with the store and immutable: copy
// before you change one.
type Store struct {
	db atomic.Pointer[memdb.MemDB]

	// writeMu serialises writers (ApplyDirect, restore): it guards the
	// write transaction and the swap of db.
	writeMu sync.Mutex

	// watchMu guards watch: per table ("" = any table), a channel closed
	// (and replaced) after a write transaction that changed that table.
	watchMu sync.Mutex
	watch   map[string]chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{watch: make(map[string]chan struct{})}
	s.db.Store(newDB())
	return s
}

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic("BUG: state schema: " + err.Error())
	}
	return db
}

// Snapshot is an immutable point-in-time view of the store. It is cheap to
// take, safe to share between goroutines, and unaffected by later writes.
type Snapshot struct {
	reader
}

// Snapshot returns a point-in-time view of the store.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{reader{s.db.Load().Snapshot()}}
}

// live returns a reader over the current contents. Each read method on it
// is one consistent read.
func (s *Store) live() reader { return reader{s.db.Load()} }

// watchCh returns the channel closed at the next change of table.
func (s *Store) watchCh(table string) <-chan struct{} {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	ch, ok := s.watch[table]
	if !ok {
		ch = make(chan struct{})
		s.watch[table] = ch
	}
	return ch
}

// notify wakes the waiters of the given tables, and of "" (any table).
// Called after the transaction that changed them has committed.
func (s *Store) notify(changed map[string]bool) {
	if len(changed) == 0 {
		return
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for table := range changed {
		if ch, ok := s.watch[table]; ok {
			close(ch)
			delete(s.watch, table)
		}
	}
	if ch, ok := s.watch[""]; ok {
		close(ch)
		delete(s.watch, "")
	}
}

// notifyAll wakes every waiter (after a restore).
func (s *Store) notifyAll() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for table, ch := range s.watch {
		close(ch)
		delete(s.watch, table)
	}
}

// Wait blocks until the index of table ("" = any table) exceeds minIndex or
// ctx ends, and returns the table's current index. It does not poll: it
// waits on a channel the writer closes after each change.
func (s *Store) Wait(ctx context.Context, table string, minIndex uint64) uint64 {
	for {
		ch := s.watchCh(table) // before reading the index: no lost wake-up
		idx := s.Index(table)
		if idx > minIndex {
			return idx
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Index(table)
		}
	}
}
