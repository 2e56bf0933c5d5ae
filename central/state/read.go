package state

import (
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Reader is the read side of the state, implemented by *Store (each call a
// consistent read of the latest state) and *Snapshot (a fixed point in
// time). Returned values are shared and immutable: copy before changing.
type Reader interface {
	JobByID(ns, id string) *jobspec.Job
	JobVersion(ns, id string, version uint64) *jobspec.Job
	JobVersions(ns, id string) []*jobspec.Job
	Jobs(ns string) []*jobspec.Job
	Nodes() []*structs.Node
	NodeByID(id string) *structs.Node
	AllocByID(id string) *structs.Allocation
	AllocsByIDPrefix(prefix string) []*structs.Allocation
	AllocsByJob(ns, jobID string) []*structs.Allocation
	AllocsByNode(nodeID string) []*structs.Allocation
	Allocs() []*structs.Allocation
	EvalByID(id string) *structs.Evaluation
	EvalsByJob(ns, jobID string) []*structs.Evaluation
	Evals() []*structs.Evaluation
	PendingEvals() []*structs.Evaluation
	EvalsByStatus(status string) []*structs.Evaluation
	Services(ns string) []*structs.ServiceRegistration
	ServiceByName(ns, name string) []*structs.ServiceRegistration
	ServicesByAlloc(allocID string) []*structs.ServiceRegistration
	Index(table string) uint64
}

var (
	_ Reader = (*Store)(nil)
	_ Reader = (*Snapshot)(nil)
)

// reader implements Reader over one memdb (the live one or a snapshot).
// Every method opens its own read transaction, so a reader may be shared
// between goroutines.
type reader struct {
	db *memdb.MemDB
}

func first[T any](db *memdb.MemDB, table, index string, args ...any) T {
	var zero T
	raw, err := db.Txn(false).First(table, index, args...)
	if err != nil || raw == nil {
		return zero
	}
	return raw.(T)
}

func collect[T any](it memdb.ResultIterator, err error) []T {
	if err != nil {
		return nil
	}
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out
}

func (r reader) get(table, index string, args ...any) (memdb.ResultIterator, error) {
	return r.db.Txn(false).Get(table, index, args...)
}

// JobByID returns the latest version of a job, or nil.
func (r reader) JobByID(ns, id string) *jobspec.Job {
	return first[*jobspec.Job](r.db, TableJobs, "id", ns, id)
}

// JobVersion returns one kept version of a job, or nil.
func (r reader) JobVersion(ns, id string, version uint64) *jobspec.Job {
	return first[*jobspec.Job](r.db, TableJobVersions, "id", ns, id, version)
}

// JobVersions returns the kept versions of a job, newest first.
func (r reader) JobVersions(ns, id string) []*jobspec.Job {
	out := collect[*jobspec.Job](r.get(TableJobVersions, "id_prefix", ns, id))
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Jobs returns the latest version of every job in namespace ns ("" = all),
// sorted by namespace then ID.
func (r reader) Jobs(ns string) []*jobspec.Job {
	if ns == "" {
		return collect[*jobspec.Job](r.get(TableJobs, "id"))
	}
	return collect[*jobspec.Job](r.get(TableJobs, "id_prefix", ns, ""))
}

// Nodes returns every node, sorted by ID.
func (r reader) Nodes() []*structs.Node {
	return collect[*structs.Node](r.get(TableNodes, "id"))
}

// NodeByID returns a node, or nil.
func (r reader) NodeByID(id string) *structs.Node {
	return first[*structs.Node](r.db, TableNodes, "id", id)
}

// NodeNameHolder returns a node other than id, not down, named name: the
// node that would make id's registration under that name fail
// (ErrNameTaken). Nil if there is none.
func (r reader) NodeNameHolder(name, id string) *structs.Node {
	it, err := r.get(TableNodes, "name", name)
	return nameHolder(it, err, id)
}

// AllocByID returns an allocation, or nil.
func (r reader) AllocByID(id string) *structs.Allocation {
	return first[*structs.Allocation](r.db, TableAllocs, "id", id)
}

// AllocsByIDPrefix returns the allocations whose ID starts with prefix,
// sorted by ID (for short IDs typed by a user).
func (r reader) AllocsByIDPrefix(prefix string) []*structs.Allocation {
	return collect[*structs.Allocation](r.get(TableAllocs, "id_prefix", prefix))
}

// AllocsByJob returns a job's allocations (every version), sorted by ID.
func (r reader) AllocsByJob(ns, jobID string) []*structs.Allocation {
	return collect[*structs.Allocation](r.get(TableAllocs, "job", ns, jobID))
}

// AllocsByNode returns a node's allocations, sorted by ID.
func (r reader) AllocsByNode(nodeID string) []*structs.Allocation {
	return collect[*structs.Allocation](r.get(TableAllocs, "node", nodeID))
}

// Allocs returns every allocation, sorted by ID.
func (r reader) Allocs() []*structs.Allocation {
	return collect[*structs.Allocation](r.get(TableAllocs, "id"))
}

// EvalByID returns an evaluation, or nil.
func (r reader) EvalByID(id string) *structs.Evaluation {
	return first[*structs.Evaluation](r.db, TableEvals, "id", id)
}

// EvalsByJob returns a job's evaluations, sorted by ID.
func (r reader) EvalsByJob(ns, jobID string) []*structs.Evaluation {
	return collect[*structs.Evaluation](r.get(TableEvals, "job", ns, jobID))
}

// Evals returns every evaluation, sorted by ID.
func (r reader) Evals() []*structs.Evaluation {
	return collect[*structs.Evaluation](r.get(TableEvals, "id"))
}

// PendingEvals returns the pending evaluations, oldest (lowest CreateIndex)
// first: what a new leader must enqueue.
func (r reader) PendingEvals() []*structs.Evaluation {
	return r.EvalsByStatus(structs.EvalPending)
}

// EvalsByStatus returns the evaluations in a status (e.g. blocked), oldest
// (lowest CreateIndex) first.
func (r reader) EvalsByStatus(status string) []*structs.Evaluation {
	out := collect[*structs.Evaluation](r.get(TableEvals, "status", status))
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateIndex != out[j].CreateIndex {
			return out[i].CreateIndex < out[j].CreateIndex
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Index returns the raft index at which table last changed, or for "" the
// highest index of any table. 0 if never written.
func (r reader) Index(table string) uint64 {
	if table != "" {
		if e := first[*indexEntry](r.db, tableIndex, "id", table); e != nil {
			return e.Value
		}
		return 0
	}
	var max uint64
	for _, e := range collect[*indexEntry](r.get(tableIndex, "id")) {
		if e.Value > max {
			max = e.Value
		}
	}
	return max
}

// The Store reads the live state; each call is one consistent read.

func (s *Store) JobByID(ns, id string) *jobspec.Job { return s.live().JobByID(ns, id) }
func (s *Store) JobVersion(ns, id string, v uint64) *jobspec.Job {
	return s.live().JobVersion(ns, id, v)
}
func (s *Store) JobVersions(ns, id string) []*jobspec.Job { return s.live().JobVersions(ns, id) }
func (s *Store) Jobs(ns string) []*jobspec.Job            { return s.live().Jobs(ns) }
func (s *Store) Nodes() []*structs.Node                   { return s.live().Nodes() }
func (s *Store) NodeByID(id string) *structs.Node         { return s.live().NodeByID(id) }
func (s *Store) NodeNameHolder(name, id string) *structs.Node {
	return s.live().NodeNameHolder(name, id)
}
func (s *Store) AllocByID(id string) *structs.Allocation { return s.live().AllocByID(id) }
func (s *Store) AllocsByIDPrefix(p string) []*structs.Allocation {
	return s.live().AllocsByIDPrefix(p)
}
func (s *Store) AllocsByJob(ns, jobID string) []*structs.Allocation {
	return s.live().AllocsByJob(ns, jobID)
}
func (s *Store) AllocsByNode(nodeID string) []*structs.Allocation {
	return s.live().AllocsByNode(nodeID)
}
func (s *Store) Allocs() []*structs.Allocation          { return s.live().Allocs() }
func (s *Store) EvalByID(id string) *structs.Evaluation { return s.live().EvalByID(id) }
func (s *Store) EvalsByJob(ns, jobID string) []*structs.Evaluation {
	return s.live().EvalsByJob(ns, jobID)
}
func (s *Store) Evals() []*structs.Evaluation        { return s.live().Evals() }
func (s *Store) PendingEvals() []*structs.Evaluation { return s.live().PendingEvals() }
func (s *Store) EvalsByStatus(status string) []*structs.Evaluation {
	return s.live().EvalsByStatus(status)
}
func (s *Store) Index(table string) uint64 { return s.live().Index(table) }
