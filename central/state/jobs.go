package state

import (
	"bytes"
	"fmt"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func checkJob(j *jobspec.Job) error {
	if j == nil {
		return fmt.Errorf("%w: nil job", ErrBadCommand)
	}
	if err := checkID("job", j.ID); err != nil {
		return err
	}
	return checkNamespace(&j.Namespace)
}

// specBytes is the canonical encoding of a job's spec: the job minus the
// fields central sets. Two jobs with equal specBytes are the same version.
// Stop is part of the spec, as in Nomad: resubmitting a stopped job makes a
// new version.
func specBytes(j *jobspec.Job) []byte {
	c := *j
	c.Version, c.Status, c.SubmitTime, c.Stable = 0, "", 0, false
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	b, err := encMode.Marshal(&c)
	if err != nil {
		// A decoded job always re-encodes; a Go-built one with an
		// unencodable Config value just counts as changed.
		return nil
	}
	return b
}

func specChanged(old, new *jobspec.Job) bool {
	ob, nb := specBytes(old), specBytes(new)
	return ob == nil || nb == nil || !bytes.Equal(ob, nb)
}

// nextVersion is the version a job's next registration gets: one past the
// newest kept version (which may outlive a purge while allocs refer to it).
func (a *applier) nextVersion(ns, id string) uint64 {
	it, err := a.txn.GetReverse(TableJobVersions, "id_prefix", ns, id)
	if err != nil {
		return 0
	}
	if raw := it.Next(); raw != nil {
		return raw.(*jobspec.Job).Version + 1
	}
	return 0
}

// putJobVersion writes j as the latest version of its job and keeps its
// newest keep versions (0: keepJobVersions).
func (a *applier) putJobVersion(j *jobspec.Job, keep int) {
	a.insert(TableJobs, j)
	a.insert(TableJobVersions, j)
	a.jobs[jobKey{j.Namespace, j.ID}] = true
	a.pruneVersions(j.Namespace, j.ID, keepOrDefault(keep))
}

// pruneVersions deletes all but the newest keep versions of a job, except
// versions an allocation in the store still refers to. (Terminal allocs
// count too: alloc.Job must be the same on a server that applied the log
// and on one restored from a snapshot.) It returns how many it deleted.
func (a *applier) pruneVersions(ns, id string, keep int) int {
	var versions []*jobspec.Job
	it, err := a.txn.Get(TableJobVersions, "id_prefix", ns, id)
	if err != nil {
		panic("BUG: job_versions scan: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		versions = append(versions, raw.(*jobspec.Job))
	}
	if len(versions) <= keep {
		return 0
	}
	used := make(map[uint64]bool)
	ait, err := a.txn.Get(TableAllocs, "job", ns, id)
	if err != nil {
		panic("BUG: allocs scan: " + err.Error())
	}
	for raw := ait.Next(); raw != nil; raw = ait.Next() {
		used[raw.(*structs.Allocation).JobVersion] = true
	}
	n := 0
	for _, v := range versions[:len(versions)-keep] {
		if !used[v.Version] {
			a.delete(TableJobVersions, v)
			n++
		}
	}
	return n
}

func (a *applier) upsertJob(op *UpsertJob) error {
	if err := checkJob(op.Job); err != nil {
		return err
	}
	if op.Eval != nil {
		if err := checkEval(op.Eval); err != nil {
			return err
		}
	}
	j := op.Job
	old := firstTxn[*jobspec.Job](a.txn, TableJobs, j.Namespace, j.ID)
	if op.EnforceIndex != 0 && (old == nil || old.JobModifyIndex != op.EnforceIndex) {
		cur := uint64(0)
		if old != nil {
			cur = old.JobModifyIndex
		}
		return fmt.Errorf("%w: job %q in namespace %q changed since it was read (job modify index %d, expected %d): read it again and retry",
			ErrConflict, j.ID, j.Namespace, cur, op.EnforceIndex)
	}
	if op.EnforceAbsent && old != nil {
		return fmt.Errorf("%w: job %q in namespace %q already exists (job modify index %d, expected a new job): read it again and retry",
			ErrConflict, j.ID, j.Namespace, old.JobModifyIndex)
	}
	if old != nil && !specChanged(old, j) {
		// Same spec: same version, nothing written (Nomad does not
		// re-register an unchanged job), but the eval still runs.
		a.res.JobIndex = old.JobModifyIndex
	} else {
		if old != nil {
			j.Version = old.Version + 1
			j.CreateIndex = old.CreateIndex
		} else {
			j.Version = a.nextVersion(j.Namespace, j.ID)
			j.CreateIndex = a.index
		}
		j.ModifyIndex, j.JobModifyIndex = a.index, a.index
		j.Status = jobspec.JobStatusPending
		j.SubmitTime = op.Now
		a.putJobVersion(j, op.KeepVersions)
		a.res.JobIndex = a.index
	}
	if op.Eval != nil {
		op.Eval.JobModifyIndex = a.res.JobIndex
		a.upsertEval(op.Eval)
	}
	return nil
}

func (a *applier) stopJob(op *StopJob) error {
	if err := checkID("job", op.JobID); err != nil {
		return err
	}
	if err := checkNamespace(&op.Namespace); err != nil {
		return err
	}
	if op.Eval != nil {
		if err := checkEval(op.Eval); err != nil {
			return err
		}
	}
	old := firstTxn[*jobspec.Job](a.txn, TableJobs, op.Namespace, op.JobID)
	if old == nil {
		return fmt.Errorf("%w: job %q in namespace %q: check the job ID and namespace", ErrNotFound, op.JobID, op.Namespace)
	}
	switch {
	case op.Purge:
		a.delete(TableJobs, old)
		a.deletePeriodicLaunch(op.Namespace, op.JobID) // periodic.go
		a.pruneVersions(op.Namespace, op.JobID, 0)
		a.res.JobIndex = a.index
	case old.Stop:
		a.res.JobIndex = old.JobModifyIndex // already stopped: no new version
	default:
		j := *old // versions share their (immutable) groups
		j.Stop = true
		j.Version = old.Version + 1
		j.ModifyIndex, j.JobModifyIndex = a.index, a.index
		j.SubmitTime = op.Now
		a.putJobVersion(&j, op.KeepVersions)
		a.res.JobIndex = a.index
	}
	if op.Eval != nil {
		op.Eval.JobModifyIndex = a.res.JobIndex
		a.upsertEval(op.Eval)
	}
	return nil
}

// jobStatus computes a job's status as Nomad does: running while any alloc
// is non-terminal (system jobs, and periodic or parameterized parents,
// which never run themselves: until stopped), pending while an eval is
// open or the latest one left allocations unplaced, dead once everything
// is terminal.
func (a *applier) jobStatus(j *jobspec.Job) string {
	if j.Type == jobspec.JobTypeSystem || j.IsParent() {
		if j.Stop {
			return jobspec.JobStatusDead
		}
		return jobspec.JobStatusRunning
	}
	seen := false
	it, err := a.txn.Get(TableAllocs, "job", j.Namespace, j.ID)
	if err != nil {
		panic("BUG: allocs scan: " + err.Error())
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		seen = true
		if !raw.(*structs.Allocation).Terminal() {
			return jobspec.JobStatusRunning
		}
	}
	eit, err := a.txn.Get(TableEvals, "job", j.Namespace, j.ID)
	if err != nil {
		panic("BUG: evals scan: " + err.Error())
	}
	var latest *structs.Evaluation
	for raw := eit.Next(); raw != nil; raw = eit.Next() {
		seen = true
		e := raw.(*structs.Evaluation)
		switch e.Status {
		case structs.EvalComplete, structs.EvalFailed, "canceled":
		default:
			return jobspec.JobStatusPending
		}
		if latest == nil || e.CreateIndex > latest.CreateIndex {
			latest = e
		}
	}
	// Allocations the latest evaluation could not place are still wanted:
	// Nomad keeps a blocked evaluation for them and calls the job pending.
	if !j.Stop && latest != nil {
		for _, n := range latest.QueuedAllocations {
			if n > 0 {
				return jobspec.JobStatusPending
			}
		}
	}
	if seen || j.Stop {
		return jobspec.JobStatusDead
	}
	return jobspec.JobStatusPending
}

// finish recomputes the status of touched jobs and the counts of touched
// deployments, and records each changed table's index.
func (a *applier) finish() {
	a.recountDeployments()
	for k := range a.jobs {
		j := firstTxn[*jobspec.Job](a.txn, TableJobs, k.ns, k.id)
		if j == nil {
			continue
		}
		if st := a.jobStatus(j); st != j.Status {
			c := *j // the versions table keeps the submitted object
			c.Status = st
			c.ModifyIndex = a.index
			a.insert(TableJobs, &c)
		}
	}
	for t := range a.changed {
		if t == tableIndex {
			continue
		}
		if err := a.txn.Insert(tableIndex, &indexEntry{Key: t, Value: a.index}); err != nil {
			panic("BUG: index table: " + err.Error())
		}
	}
}
