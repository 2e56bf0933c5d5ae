package state

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Periodic launches (docs/jobspec.md, periodic). The leader asks for each
// launch with a LaunchPeriodic op; the FSM alone decides whether it
// happens, so two leaders racing over one launch (an old one that has not
// noticed it was deposed, a new one catching up) register it at most once:
// a launch at or before the job's last recorded one, or of a child that
// exists already, changes nothing.

// ErrNotPeriodic is returned by a launch of a job that is not (or no
// longer) an enabled, running periodic job.
var ErrNotPeriodic = errors.New("state: not an active periodic job")

// TablePeriodicLaunches holds, per periodic job, the newest scheduled
// launch handled (launched, or skipped for prohibit_overlap).
const TablePeriodicLaunches = "periodic_launches"

func init() { tables = append(tables, TablePeriodicLaunches) } // snapshotted after the jobs

// PeriodicLaunch is a row of the periodic_launches table.
type PeriodicLaunch struct {
	Namespace   string `json:"namespace"`
	JobID       string `json:"job_id"`
	Launch      int64  `json:"launch"` // unix ns of the newest scheduled launch handled
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// LaunchPeriodic registers Child, a periodic job's launch at Launch, with
// its evaluation, unless the job is no longer an enabled, running periodic
// job (an error), the launch was handled already or the child exists (no
// change), or, without Force, the job prohibits overlap and an earlier
// child is not dead yet (skipped: only the launch is recorded).
type LaunchPeriodic struct {
	Child  *jobspec.Job        `json:"child"`
	Eval   *structs.Evaluation `json:"eval"`
	Launch int64               `json:"launch"` // unix ns
	// Force is `job periodic force`: launched whatever the overlap, and
	// not recorded as a scheduled launch.
	Force        bool  `json:"force,omitempty"`
	Now          int64 `json:"now"`
	KeepVersions int   `json:"keep_versions,omitempty"`
}

func periodicOps(op *Op) int {
	if op.LaunchPeriodic != nil {
		return 1
	}
	return 0
}

func (a *applier) applyPeriodic(op *Op) (bool, error) {
	if op.LaunchPeriodic == nil {
		return false, nil
	}
	return true, a.launchPeriodic(op.LaunchPeriodic)
}

func periodicSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TablePeriodicLaunches,
		Indexes: map[string]*memdb.IndexSchema{
			"id": idIndex(func(o any) ([]string, bool) {
				l := o.(*PeriodicLaunch)
				return []string{l.Namespace, l.JobID}, true
			}),
		},
	}
}

// periodicJobIndex indexes the jobs table's periodic parents, so the
// leader finds them without scanning every job.
func periodicJobIndex() *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: "periodic", AllowMissing: true, Indexer: strIndex{func(o any) ([]string, bool) {
		j := o.(*jobspec.Job)
		return []string{j.Namespace, j.ID}, j.Periodic != nil && j.ParentID == ""
	}}}
}

func (a *applier) launchPeriodic(op *LaunchPeriodic) error {
	c := op.Child
	if err := checkJob(c); err != nil {
		return err
	}
	if err := checkEval(op.Eval); err != nil {
		return err
	}
	if c.ParentID == "" || c.Periodic != nil || c.Parameterized != nil ||
		!strings.HasPrefix(c.ID, c.ParentID+jobspec.PeriodicLaunchSuffix) || op.Eval.JobID != c.ID || op.Eval.Namespace != c.Namespace {
		return fmt.Errorf("%w: periodic launch %q of %q is not a periodic child", ErrBadCommand, c.ID, c.ParentID)
	}
	parent := firstTxn[*jobspec.Job](a.txn, TableJobs, c.Namespace, c.ParentID)
	switch {
	case parent == nil:
		return fmt.Errorf("%w: periodic job %q in namespace %q", ErrNotFound, c.ParentID, c.Namespace)
	case parent.Periodic == nil || parent.ParentID != "":
		return fmt.Errorf("%w: job %q is not periodic", ErrNotPeriodic, c.ParentID)
	case parent.Stop:
		return fmt.Errorf("%w: job %q is stopped: run it again to resume its launches", ErrNotPeriodic, c.ParentID)
	case !parent.Periodic.Enabled:
		return fmt.Errorf("%w: job %q has periodic { enabled = false }: set enabled = true and run it again", ErrNotPeriodic, c.ParentID)
	}
	if old := firstTxn[*jobspec.Job](a.txn, TableJobs, c.Namespace, c.ID); old != nil {
		a.res.Ignored++ // launched already (by this leader or another)
		return nil
	}
	if !op.Force {
		last := firstTxn[*PeriodicLaunch](a.txn, TablePeriodicLaunches, c.Namespace, c.ParentID)
		if last != nil && op.Launch <= last.Launch {
			a.res.Ignored++ // handled already
			return nil
		}
		a.recordLaunch(c.Namespace, c.ParentID, op.Launch, last)
		if parent.Periodic.ProhibitOverlap && a.childRunning(c.Namespace, c.ParentID) {
			a.res.Ignored++ // skipped, as Nomad's prohibit_overlap
			return nil
		}
	}
	return a.upsertJob(&UpsertJob{Job: c, Eval: op.Eval, Now: op.Now, KeepVersions: op.KeepVersions})
}

func (a *applier) recordLaunch(ns, id string, launch int64, old *PeriodicLaunch) {
	l := &PeriodicLaunch{Namespace: ns, JobID: id, Launch: launch, CreateIndex: a.index, ModifyIndex: a.index}
	if old != nil {
		l.CreateIndex = old.CreateIndex
	}
	a.insert(TablePeriodicLaunches, l)
}

// childRunning reports whether a periodic child of the job is not dead.
func (a *applier) childRunning(ns, parentID string) bool {
	it, err := a.txn.Get(TableJobs, "id_prefix", ns, parentID+jobspec.PeriodicLaunchSuffix)
	if err != nil {
		panic("BUG: jobs scan: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if j := raw.(*jobspec.Job); j.ParentID == parentID && j.Status != jobspec.JobStatusDead {
			return true
		}
	}
	return false
}

// deletePeriodicLaunch forgets a purged job's launches.
func (a *applier) deletePeriodicLaunch(ns, id string) {
	if l := firstTxn[*PeriodicLaunch](a.txn, TablePeriodicLaunches, ns, id); l != nil {
		a.delete(TablePeriodicLaunches, l)
	}
}

// PeriodicJobs returns every periodic parent job, of every namespace.
func (r reader) PeriodicJobs() []*jobspec.Job {
	return collect[*jobspec.Job](r.get(TableJobs, "periodic"))
}

// PeriodicLaunchOf returns a periodic job's launch record, or nil.
func (r reader) PeriodicLaunchOf(ns, id string) *PeriodicLaunch {
	return first[*PeriodicLaunch](r.db, TablePeriodicLaunches, "id", ns, id)
}

// ChildJobs returns the jobs launched or dispatched from a job (IDs under
// <id>/ whose ParentID is id), sorted by ID.
func (r reader) ChildJobs(ns, parentID string) []*jobspec.Job {
	var out []*jobspec.Job
	for _, j := range collect[*jobspec.Job](r.get(TableJobs, "id_prefix", ns, parentID+"/")) {
		if j.ParentID == parentID {
			out = append(out, j)
		}
	}
	return out
}

func (s *Store) PeriodicJobs() []*jobspec.Job { return s.live().PeriodicJobs() }
func (s *Store) PeriodicLaunchOf(ns, id string) *PeriodicLaunch {
	return s.live().PeriodicLaunchOf(ns, id)
}
func (s *Store) ChildJobs(ns, parentID string) []*jobspec.Job {
	return s.live().ChildJobs(ns, parentID)
}
