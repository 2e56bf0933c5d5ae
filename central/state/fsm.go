package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// snapshotFormat is the version of the snapshot stream written by Persist.
// Format 2 added service registrations, format 3 ACL policies and tokens;
// older streams still restore.
const (
	snapshotFormat    = 3
	minSnapshotFormat = 1
)

// FSM applies Raft log entries (CBOR-encoded Commands) to a Store. It
// implements raft.FSM: raft calls Apply and Snapshot from one goroutine,
// Persist concurrently with Apply, and Restore alone.
type FSM struct {
	store  *Store
	logger *slog.Logger
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an FSM over store. logger may be nil.
func NewFSM(store *Store, logger *slog.Logger) *FSM {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FSM{store: store, logger: logger}
}

// Store returns the store the FSM applies to.
func (f *FSM) Store() *Store { return f.store }

// Apply decodes and applies one log entry. It returns *ApplyResult (also
// for an entry that does not decode, with Err set).
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return &ApplyResult{Index: l.Index}
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		f.logger.Error("skipping undecodable raft entry", "index", l.Index, "error", err)
		return &ApplyResult{Index: l.Index, Err: err}
	}
	res := f.store.ApplyDirect(l.Index, c)
	if res.Err != nil {
		if errors.Is(res.Err, errApplyPanic) {
			f.logger.Error("raft entry discarded", "index", l.Index, "error", res.Err)
		} else {
			f.logger.Debug("raft entry partly rejected", "index", l.Index, "error", res.Err)
		}
	}
	return res
}

// snapHeader opens a snapshot stream.
type snapHeader struct {
	Format int    `json:"format"`
	Index  uint64 `json:"index"`
}

// snapRecord is one row of a snapshot stream; exactly one field is set.
// End marks the end of a complete stream (a truncated one is refused).
type snapRecord struct {
	Version *jobspec.Job                 `json:"v,omitempty"`
	Job     *jobspec.Job                 `json:"j,omitempty"`
	Node    *structs.Node                `json:"n,omitempty"`
	Eval    *structs.Evaluation          `json:"e,omitempty"`
	Alloc   *structs.Allocation          `json:"a,omitempty"`
	Service *structs.ServiceRegistration `json:"s,omitempty"`
	Index   *indexEntry                  `json:"i,omitempty"`
	Policy  *acl.Policy                  `json:"ap,omitempty"`
	Token   *acl.Token                   `json:"at,omitempty"`
	Sec     *SecurityEntry               `json:"sec,omitempty"`
	PLaunch *PeriodicLaunch              `json:"pl,omitempty"`
	Deploy  *structs.Deployment          `json:"d,omitempty"`
	Release *structs.AgentRelease        `json:"ar,omitempty"` // ota.go
	Rollout *structs.AgentRollout        `json:"ro,omitempty"`
	End     bool                         `json:"end,omitempty"`
}

// Snapshot captures the store at this point (cheap); Persist streams it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{db: f.store.db.Load().Snapshot()}, nil
}

type fsmSnapshot struct {
	db *memdb.MemDB
}

// Persist writes the header, every row of every table (job versions before
// the allocs that refer to them) and an end marker.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := encMode.NewEncoder(bw)
	r := reader{s.db}
	if err := enc.Encode(&snapHeader{Format: snapshotFormat, Index: r.Index("")}); err != nil {
		return fmt.Errorf("state: snapshot header: %w", err)
	}
	txn := s.db.Txn(false)
	for _, table := range append([]string{tableIndex}, tables...) {
		it, err := txn.Get(table, "id")
		if err != nil {
			return fmt.Errorf("state: snapshot %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			var rec snapRecord
			switch table {
			case tableIndex:
				rec.Index = raw.(*indexEntry)
			case TableJobVersions:
				rec.Version = raw.(*jobspec.Job)
			case TableJobs:
				rec.Job = raw.(*jobspec.Job)
			case TableNodes:
				rec.Node = raw.(*structs.Node)
			case TableEvals:
				rec.Eval = raw.(*structs.Evaluation)
			case TableAllocs:
				rec.Alloc = raw.(*structs.Allocation)
			case TableServices:
				rec.Service = raw.(*structs.ServiceRegistration)
			case TableACLPolicies:
				rec.Policy = raw.(*acl.Policy)
			case TableACLTokens:
				rec.Token = raw.(*acl.Token)
			case TableSecurity:
				rec.Sec = raw.(*SecurityEntry)
			case TablePeriodicLaunches:
				rec.PLaunch = raw.(*PeriodicLaunch)
			case TableDeployments:
				rec.Deploy = raw.(*structs.Deployment)
			case TableAgentReleases:
				rec.Release = raw.(*structs.AgentRelease)
			case TableAgentRollouts:
				rec.Rollout = raw.(*structs.AgentRollout)
			}
			if err := enc.Encode(&rec); err != nil {
				return fmt.Errorf("state: snapshot %s row: %w", table, err)
			}
		}
	}
	if err := enc.Encode(&snapRecord{End: true}); err != nil {
		return fmt.Errorf("state: snapshot end: %w", err)
	}
	return bw.Flush()
}

// Release does nothing: the memdb snapshot is garbage collected.
func (s *fsmSnapshot) Release() {}

// Restore replaces the store's contents with the snapshot, atomically:
// readers see either the old state or the new one. On error the store is
// unchanged.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	f.store.replace(db)
	f.logger.Info("restored state from snapshot", "index", reader{db}.Index(""))
	return nil
}

// replace swaps in db as the store's contents and wakes every waiter.
func (s *Store) replace(db *memdb.MemDB) {
	s.writeMu.Lock()
	s.db.Store(db)
	s.writeMu.Unlock()
	s.notifyAll()
}

func readSnapshot(r io.Reader) (*memdb.MemDB, error) {
	dec := decMode.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var h snapHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if h.Format < minSnapshotFormat || h.Format > snapshotFormat {
		return nil, fmt.Errorf("%w: format %d (this build reads %d to %d): upgrade this server", ErrBadSnapshot, h.Format, minSnapshotFormat, snapshotFormat)
	}
	db := newDB()
	txn := db.Txn(true)
	defer txn.Abort()
	var allocs []*structs.Allocation
	for n := 0; ; n++ {
		var rec snapRecord
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: truncated after %d records", ErrBadSnapshot, n)
			}
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, err)
		}
		if rec.End {
			break
		}
		var table string
		var obj any
		switch {
		case rec.Index != nil:
			table, obj = tableIndex, rec.Index
		case rec.Version != nil:
			table, obj = TableJobVersions, rec.Version
		case rec.Job != nil:
			table, obj = TableJobs, rec.Job
		case rec.Node != nil:
			table, obj = TableNodes, rec.Node
		case rec.Eval != nil:
			table, obj = TableEvals, rec.Eval
		case rec.Service != nil:
			table, obj = TableServices, rec.Service
		case rec.Policy != nil:
			table, obj = TableACLPolicies, rec.Policy
		case rec.Token != nil:
			table, obj = TableACLTokens, rec.Token
		case rec.Sec != nil:
			table, obj = TableSecurity, rec.Sec
		case rec.PLaunch != nil:
			table, obj = TablePeriodicLaunches, rec.PLaunch
		case rec.Deploy != nil:
			table, obj = TableDeployments, rec.Deploy
		case rec.Release != nil:
			table, obj = TableAgentReleases, rec.Release
		case rec.Rollout != nil:
			table, obj = TableAgentRollouts, rec.Rollout
		case rec.Alloc != nil:
			allocs = append(allocs, rec.Alloc) // linked to its job below
			continue
		default:
			return nil, fmt.Errorf("%w: record %d is empty", ErrBadSnapshot, n)
		}
		if err := txn.Insert(table, obj); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, err)
		}
	}
	for _, al := range allocs {
		al.Job = firstTxn[*jobspec.Job](txn, TableJobVersions, al.Namespace, al.JobID, al.JobVersion)
		if err := txn.Insert(TableAllocs, al); err != nil {
			return nil, fmt.Errorf("%w: alloc %q: %v", ErrBadSnapshot, al.ID, err)
		}
	}
	txn.Commit()
	return db, nil
}
