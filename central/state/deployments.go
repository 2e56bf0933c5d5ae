package state

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// TableDeployments holds structs.Deployment rows: one per rollout of a job
// version (docs/deployments.md).
const TableDeployments = "deployments"

// Deployments are written three ways:
//
//   - a plan creates one (or replaces it whole) and cancels an older
//     version's (ApplyPlan: Plan.Deployment, Plan.DeploymentUpdates);
//   - the leader's deployment watcher and the operator change its status
//     (UpdateDeployment: promote, fail, pause, resume, success — which also
//     marks the job version stable);
//   - every write of an allocation that names a deployment recounts that
//     deployment's placed, healthy and unhealthy allocations here, in the
//     FSM, so each server holds the same counts without extra entries.

// ErrDeploymentDone is returned by a status change of a deployment that
// is no longer active (successful, failed or cancelled).
var ErrDeploymentDone = errors.New("state: deployment no longer active")

// UpdateDeployment changes an active deployment's status. Exactly what is
// set happens; an op on a deployment that is no longer active is refused
// (ErrDeploymentDone), so a late "fail" cannot undo a success.
type UpdateDeployment struct {
	DeploymentID      string `json:"deployment_id"`
	Status            string `json:"status,omitempty"` // "" keeps the status
	StatusDescription string `json:"status_description,omitempty"`
	// Promote marks every group promoted (canaries accepted).
	Promote bool `json:"promote,omitempty"`
	// MarkStable sets Stable on the deployment's job version (with a
	// successful status).
	MarkStable bool `json:"mark_stable,omitempty"`
	// Healthy and Unhealthy set the deployment health of allocations the
	// deployment placed (an operator's, for health_check = "manual");
	// others are ignored.
	Healthy   []string            `json:"healthy,omitempty"`
	Unhealthy []string            `json:"unhealthy,omitempty"`
	Eval      *structs.Evaluation `json:"eval,omitempty"`
	Now       int64               `json:"now"`
}

func deploymentsSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableDeployments,
		Indexes: map[string]*memdb.IndexSchema{
			"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.Deployment).ID}, true }),
			"job": {Name: "job", Indexer: strIndex{func(o any) ([]string, bool) {
				d := o.(*structs.Deployment)
				return []string{d.Namespace, d.JobID}, true
			}}},
		},
	}
}

// allocDeploymentIndex indexes allocations by the deployment that placed
// them (allocs without one are not indexed).
func allocDeploymentIndex() *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: "deployment", AllowMissing: true, Indexer: strIndex{func(o any) ([]string, bool) {
		a := o.(*structs.Allocation)
		return []string{a.DeploymentID}, a.DeploymentID != ""
	}}}
}

func validDeploymentStatus(s string) bool {
	switch s {
	case structs.DeploymentRunning, structs.DeploymentPaused, structs.DeploymentFailed,
		structs.DeploymentSuccessful, structs.DeploymentCancelled, structs.DeploymentPending:
		return true
	}
	return false
}

func checkDeployment(d *structs.Deployment) error {
	if d == nil {
		return fmt.Errorf("%w: nil deployment", ErrBadCommand)
	}
	if err := checkID("deployment", d.ID); err != nil {
		return err
	}
	if err := checkID("deployment's job", d.JobID); err != nil {
		return err
	}
	if err := checkNamespace(&d.Namespace); err != nil {
		return err
	}
	if !validDeploymentStatus(d.Status) {
		return fmt.Errorf("%w: deployment %q: unknown status %q", ErrBadCommand, d.ID, d.Status)
	}
	for name, g := range d.TaskGroups {
		if g == nil {
			return fmt.Errorf("%w: deployment %q: group %q has no state", ErrBadCommand, d.ID, name)
		}
	}
	return nil
}

// upsertDeployment writes a plan's deployment. Of a deployment already
// stored, a plan changes only the per-group count of skipped
// disconnected allocs: its status and promotion are the watcher's and the
// operator's, and may have changed since the plan was made.
func (a *applier) upsertDeployment(d *structs.Deployment, now int64) {
	if old := firstTxn[*structs.Deployment](a.txn, TableDeployments, d.ID); old != nil {
		c := *old
		c.TaskGroups = make(map[string]*structs.DeploymentState, len(old.TaskGroups))
		for name, g := range old.TaskGroups {
			gc := *g
			if ng := d.TaskGroups[name]; ng != nil {
				gc.DisconnectedSkipped = ng.DisconnectedSkipped
			}
			c.TaskGroups[name] = &gc
		}
		d = &c
	} else {
		d.CreateIndex = a.index
		if d.CreateTime == 0 {
			d.CreateTime = now
		}
	}
	d.ModifyIndex, d.ModifyTime = a.index, now
	a.insert(TableDeployments, d)
	a.touchDeployment(d.ID)
}

// deploymentStatusUpdate applies a plan's status change of another
// deployment (a cancellation). Terminal deployments are left as they are.
func (a *applier) deploymentStatusUpdate(u *structs.DeploymentStatusUpdate, now int64) {
	old := firstTxn[*structs.Deployment](a.txn, TableDeployments, u.DeploymentID)
	if old == nil || !old.Active() {
		a.res.Ignored++
		return
	}
	c := *old
	c.Status, c.StatusDescription = u.Status, u.StatusDescription
	c.ModifyIndex, c.ModifyTime = a.index, now
	a.insert(TableDeployments, &c)
}

func (a *applier) updateDeployment(op *UpdateDeployment) error {
	if err := checkID("deployment", op.DeploymentID); err != nil {
		return err
	}
	if op.Status != "" && !validDeploymentStatus(op.Status) {
		return fmt.Errorf("%w: deployment %q: unknown status %q", ErrBadCommand, op.DeploymentID, op.Status)
	}
	if op.Eval != nil {
		if err := checkEval(op.Eval); err != nil {
			return err
		}
	}
	old := firstTxn[*structs.Deployment](a.txn, TableDeployments, op.DeploymentID)
	if old == nil {
		return fmt.Errorf("%w: deployment %q", ErrNotFound, op.DeploymentID)
	}
	if !old.Active() {
		return fmt.Errorf("%w: deployment %q is %s: start a new one by submitting the job", ErrDeploymentDone, old.ID, old.Status)
	}
	c := *old
	if op.Status != "" {
		c.Status = op.Status
	}
	if op.StatusDescription != "" || op.Status != "" {
		c.StatusDescription = op.StatusDescription
	}
	if op.Promote {
		c.TaskGroups = make(map[string]*structs.DeploymentState, len(old.TaskGroups))
		for name, g := range old.TaskGroups {
			gc := *g
			if gc.DesiredCanaries > 0 {
				gc.Promoted = true
			}
			c.TaskGroups[name] = &gc
		}
	}
	c.ModifyIndex, c.ModifyTime = a.index, op.Now
	a.insert(TableDeployments, &c)
	if op.MarkStable {
		a.markStable(c.Namespace, c.JobID, c.JobVersion)
	}
	for _, set := range []struct {
		ids     []string
		healthy bool
	}{{op.Healthy, true}, {op.Unhealthy, false}} {
		for _, id := range set.ids {
			al := firstTxn[*structs.Allocation](a.txn, TableAllocs, id)
			if al == nil || al.DeploymentID != c.ID {
				a.res.Ignored++
				continue
			}
			u := *al
			ds := structs.AllocDeploymentStatus{}
			if al.DeploymentStatus != nil {
				ds = *al.DeploymentStatus
			}
			healthy := set.healthy
			ds.Healthy, ds.Timestamp, ds.Reason = &healthy, op.Now, ""
			if !healthy {
				ds.Reason = "marked unhealthy by an operator"
			}
			u.DeploymentStatus = &ds
			u.ModifyIndex = a.index
			a.insert(TableAllocs, &u)
		}
	}
	if op.Eval != nil {
		a.upsertEval(op.Eval)
	}
	return nil
}

// markStable sets Stable on one version of a job (and on the job itself
// when that version is the latest). A version already pruned is skipped.
func (a *applier) markStable(ns, id string, version uint64) {
	v := firstTxn[*jobspec.Job](a.txn, TableJobVersions, ns, id, version)
	if v == nil || v.Stable {
		return
	}
	c := *v
	c.Stable = true
	a.insert(TableJobVersions, &c)
	if cur := firstTxn[*jobspec.Job](a.txn, TableJobs, ns, id); cur != nil && cur.Version == version {
		j := *cur
		j.Stable = true
		j.ModifyIndex = a.index
		a.insert(TableJobs, &j)
	}
	// Allocations point at the version object: keep them on the new one.
	it, err := a.txn.Get(TableAllocs, "job", ns, id)
	if err != nil {
		panic("BUG: allocs scan: " + err.Error())
	}
	var relink []*structs.Allocation
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if al := raw.(*structs.Allocation); al.JobVersion == version {
			relink = append(relink, al)
		}
	}
	for _, al := range relink {
		u := *al
		u.Job = &c
		if err := a.txn.Insert(TableAllocs, &u); err != nil {
			panic("BUG: relink alloc: " + err.Error())
		}
	}
}

// touchDeployment marks a deployment for recounting at the end of the
// command.
func (a *applier) touchDeployment(id string) {
	if id == "" {
		return
	}
	if a.deployments == nil {
		a.deployments = map[string]bool{}
	}
	a.deployments[id] = true
}

// recountDeployments refreshes the per-group counters of every touched,
// active deployment from its allocations. RequireProgressBy moves to the
// newest healthy report plus the group's progress deadline, as Nomad's
// watcher moves it on progress.
func (a *applier) recountDeployments() {
	ids := make([]string, 0, len(a.deployments))
	for id := range a.deployments {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		d := firstTxn[*structs.Deployment](a.txn, TableDeployments, id)
		if d == nil || !d.Active() {
			continue
		}
		type counts struct {
			placed, healthy, unhealthy int
			canaries                   []string
			lastHealthy                int64
		}
		by := map[string]*counts{}
		it, err := a.txn.Get(TableAllocs, "deployment", id)
		if err != nil {
			panic("BUG: allocs by deployment: " + err.Error())
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			al := raw.(*structs.Allocation)
			c := by[al.TaskGroup]
			if c == nil {
				c = &counts{}
				by[al.TaskGroup] = c
			}
			c.placed++
			if ds := al.DeploymentStatus; ds != nil {
				if ds.Canary {
					c.canaries = append(c.canaries, al.ID)
				}
				if ds.Healthy != nil && *ds.Healthy {
					c.healthy++
					c.lastHealthy = max(c.lastHealthy, ds.Timestamp)
				} else if ds.Healthy != nil {
					c.unhealthy++
				}
			}
		}
		changed := false
		groups := make(map[string]*structs.DeploymentState, len(d.TaskGroups))
		for name, g := range d.TaskGroups {
			gc := *g
			c := by[name]
			if c == nil {
				c = &counts{}
			}
			gc.PlacedAllocs, gc.HealthyAllocs, gc.UnhealthyAllocs = c.placed, c.healthy, c.unhealthy
			gc.PlacedCanaries = c.canaries
			if c.healthy > g.HealthyAllocs && gc.ProgressDeadline > 0 && c.lastHealthy > 0 {
				gc.RequireProgressBy = max(gc.RequireProgressBy, c.lastHealthy+gc.ProgressDeadline)
			}
			if gc.PlacedAllocs != g.PlacedAllocs || gc.HealthyAllocs != g.HealthyAllocs ||
				gc.UnhealthyAllocs != g.UnhealthyAllocs || !slices.Equal(gc.PlacedCanaries, g.PlacedCanaries) ||
				gc.RequireProgressBy != g.RequireProgressBy {
				changed = true
			}
			groups[name] = &gc
		}
		if !changed {
			continue
		}
		c := *d
		c.TaskGroups = groups
		c.ModifyIndex = a.index
		a.insert(TableDeployments, &c)
	}
}

// --- reads -------------------------------------------------------------------

// DeploymentByID returns a deployment, or nil.
func (r reader) DeploymentByID(id string) *structs.Deployment {
	return first[*structs.Deployment](r.db, TableDeployments, "id", id)
}

// DeploymentsByIDPrefix returns the deployments whose ID starts with
// prefix, sorted by ID.
func (r reader) DeploymentsByIDPrefix(prefix string) []*structs.Deployment {
	return collect[*structs.Deployment](r.get(TableDeployments, "id_prefix", prefix))
}

// Deployments returns every deployment of namespace ns ("" = all), newest
// first.
func (r reader) Deployments(ns string) []*structs.Deployment {
	out := collect[*structs.Deployment](r.get(TableDeployments, "id"))
	if ns != "" {
		out = slices.DeleteFunc(out, func(d *structs.Deployment) bool { return d.Namespace != ns })
	}
	sortNewest(out)
	return out
}

// DeploymentsByJob returns a job's deployments, newest first.
func (r reader) DeploymentsByJob(ns, jobID string) []*structs.Deployment {
	out := collect[*structs.Deployment](r.get(TableDeployments, "job", ns, jobID))
	sortNewest(out)
	return out
}

// LatestDeploymentByJob returns a job's newest deployment, or nil.
func (r reader) LatestDeploymentByJob(ns, jobID string) *structs.Deployment {
	ds := r.DeploymentsByJob(ns, jobID)
	if len(ds) == 0 {
		return nil
	}
	return ds[0]
}

// AllocsByDeployment returns the allocations a deployment placed, sorted
// by ID.
func (r reader) AllocsByDeployment(id string) []*structs.Allocation {
	return collect[*structs.Allocation](r.get(TableAllocs, "deployment", id))
}

func sortNewest(ds []*structs.Deployment) {
	slices.SortFunc(ds, func(a, b *structs.Deployment) int {
		if a.CreateIndex != b.CreateIndex {
			if a.CreateIndex > b.CreateIndex {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}

func (s *Store) DeploymentByID(id string) *structs.Deployment { return s.live().DeploymentByID(id) }
func (s *Store) DeploymentsByIDPrefix(p string) []*structs.Deployment {
	return s.live().DeploymentsByIDPrefix(p)
}
func (s *Store) Deployments(ns string) []*structs.Deployment { return s.live().Deployments(ns) }
func (s *Store) DeploymentsByJob(ns, jobID string) []*structs.Deployment {
	return s.live().DeploymentsByJob(ns, jobID)
}
func (s *Store) LatestDeploymentByJob(ns, jobID string) *structs.Deployment {
	return s.live().LatestDeploymentByJob(ns, jobID)
}
func (s *Store) AllocsByDeployment(id string) []*structs.Allocation {
	return s.live().AllocsByDeployment(id)
}
