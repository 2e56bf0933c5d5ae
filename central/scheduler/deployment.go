package scheduler

import (
	"slices"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Deployments (Nomad's rolling updates and canaries) gate the reconciler's
// destructive updates of service groups that have an update block with
// max_parallel > 0:
//
//	prepareRollout: find this version's deployment; cancel an older one;
//	                keep unpromoted canaries out of the slots (they share an
//	                index with the old alloc they shadow); stop old allocs
//	                whose index a promoted canary took over
//	reconcileGeneric (unchanged): buckets as if everything were replaced
//	gate:           create the deployment if this version needs one; hold
//	                back destructive updates beyond
//	                max_parallel − (new allocs not yet healthy), or all of
//	                them while canaries wait for promotion or the
//	                deployment is failed or paused; place missing canaries
//	stamp:          placed allocs carry the deployment ID (and Canary)
//
// The leader's deployment watcher (central/server) decides health,
// deadlines, success and auto-revert; every status change it writes comes
// with an evaluation so that this code runs again.

// DeploymentReader is the part of State that knows deployments. A State
// without it schedules as if no group had an update block.
type DeploymentReader interface {
	LatestDeploymentByJob(namespace, jobID string) *structs.Deployment
}

// Descriptions written on allocations stopped by a rollout.
const (
	DescReplacedByCanary = "alloc not needed as it was replaced by a promoted canary"
	DescCanaryNotNeeded  = "canary not needed: its deployment failed or was superseded"
)

// rollout is one Compute call's view of the job's deployment.
type rollout struct {
	s *sched
	// d is this job version's deployment, nil while it has none (or its
	// last one succeeded: a new one starts if there is work again).
	d     *structs.Deployment
	isNew bool
	// canaryIdx holds, per group, the indices of live canaries of d.
	canaryIdx map[string]map[int]bool
	stops     []stopReq             // decided before reconciling
	keep      []*structs.Allocation // unpromoted canaries, left running
	// skipped counts, per group, old allocs on disconnected nodes that
	// the rollout cannot update now.
	skipped map[string]int
}

// strategy returns tg's update strategy when it asks for deployments:
// service and system jobs (a system job rolls out max_parallel nodes at a
// time).
func strategy(job *jobspec.Job, tg *jobspec.TaskGroup) *jobspec.UpdateStrategy {
	if !rolledOut(job) || tg.Update == nil || tg.Update.MaxParallel <= 0 {
		return nil
	}
	return tg.Update
}

// rolledOut reports whether job's versions may be rolled out in
// deployments.
func rolledOut(job *jobspec.Job) bool {
	return job.Type == jobspec.JobTypeService || job.Type == jobspec.JobTypeSystem
}

func isCanary(a *structs.Allocation) bool {
	return a.DeploymentStatus != nil && a.DeploymentStatus.Canary
}

func isHealthy(a *structs.Allocation) bool {
	return a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy
}

// latestDeployment returns the job's newest deployment, if st knows any.
func (s *sched) latestDeployment() *structs.Deployment {
	dr, ok := s.st.(DeploymentReader)
	if !ok {
		return nil
	}
	return dr.LatestDeploymentByJob(s.ns, s.eval.JobID)
}

// cancelStale cancels the newest deployment when it is active but not of
// job (nil: the job is gone or stopped). It returns the deployment that
// belongs to job, if any.
func (s *sched) cancelStale(job *jobspec.Job) *structs.Deployment {
	d := s.latestDeployment()
	if d == nil {
		return nil
	}
	mine := job != nil && !job.Stop && d.JobVersion == job.Version && d.JobCreateIndex == job.CreateIndex
	if !mine {
		if d.Active() {
			s.plan.DeploymentUpdates = append(s.plan.DeploymentUpdates, &structs.DeploymentStatusUpdate{
				DeploymentID: d.ID, Status: structs.DeploymentCancelled, StatusDescription: structs.DescDeploymentNewerJob})
		}
		return nil
	}
	return d
}

// prepareRollout finds the deployment and returns the allocations the
// reconciler should slot (all of them but unpromoted canaries and the old
// allocs promoted canaries replace).
func (s *sched) prepareRollout(allocs []*structs.Allocation) ([]*structs.Allocation, *rollout) {
	ro := &rollout{s: s, canaryIdx: map[string]map[int]bool{}, skipped: map[string]int{}}
	if !rolledOut(s.job) {
		return allocs, ro
	}
	ro.d = s.cancelStale(s.job)
	if ro.d != nil && (ro.d.Status == structs.DeploymentSuccessful || ro.d.Status == structs.DeploymentCancelled) {
		ro.d = nil
	}
	failed := ro.d != nil && ro.d.Status == structs.DeploymentFailed

	// Indices held by live non-canary allocs, per group.
	held := map[string]map[int]bool{}
	for _, a := range allocs {
		if live(a) && !isCanary(a) {
			if held[a.TaskGroup] == nil {
				held[a.TaskGroup] = map[int]bool{}
			}
			held[a.TaskGroup][a.Index] = true
		}
	}
	drop := map[string]bool{}
	for _, a := range allocs {
		if !live(a) || !isCanary(a) {
			continue
		}
		ours := ro.d != nil && a.DeploymentID == ro.d.ID
		promoted := ours && ro.d.TaskGroups[a.TaskGroup] != nil && ro.d.TaskGroups[a.TaskGroup].Promoted
		switch {
		case ours && failed && !promoted:
			ro.stops = append(ro.stops, stopReq{a, DescCanaryNotNeeded})
			drop[a.ID] = true
		case ours && !promoted:
			ro.keep = append(ro.keep, a)
			drop[a.ID] = true
			ro.markCanary(a)
		case ours:
			ro.markCanary(a) // promoted: it owns its index now
		case held[a.TaskGroup][a.Index]:
			// A canary of an older deployment that was never promoted.
			ro.stops = append(ro.stops, stopReq{a, DescCanaryNotNeeded})
			drop[a.ID] = true
		}
	}
	// Old allocs whose index a promoted canary took over.
	if ro.d != nil {
		for _, a := range allocs {
			g := ro.d.TaskGroups[a.TaskGroup]
			if live(a) && !drop[a.ID] && g != nil && g.Promoted && !isCanary(a) && a.JobVersion != s.job.Version && ro.canaryIdx[a.TaskGroup][a.Index] {
				ro.stops = append(ro.stops, stopReq{a, DescReplacedByCanary})
				drop[a.ID] = true
			}
		}
	}
	if len(drop) == 0 {
		return allocs, ro
	}
	return slices.DeleteFunc(slices.Clone(allocs), func(a *structs.Allocation) bool { return drop[a.ID] }), ro
}

func (ro *rollout) markCanary(a *structs.Allocation) {
	if ro.canaryIdx[a.TaskGroup] == nil {
		ro.canaryIdx[a.TaskGroup] = map[int]bool{}
	}
	ro.canaryIdx[a.TaskGroup][a.Index] = true
}

// gate creates the deployment when this version needs one and holds back
// the destructive updates the rollout does not allow yet.
func (ro *rollout) gate(r *reconcileResult, allocs []*structs.Allocation) {
	s := ro.s
	r.stop = append(r.stop, ro.stops...)
	r.ignore = append(r.ignore, ro.keep...)
	if !rolledOut(s.job) {
		return
	}
	// total is what a system job's group runs once rolled out: one alloc
	// per feasible node (a service group's is its count).
	type work struct{ destructive, inplace, place, total int }
	by := map[string]*work{}
	for _, tg := range s.job.TaskGroups {
		by[tg.Name] = &work{}
	}
	for _, a := range r.destructive {
		if w := by[a.TaskGroup]; w != nil {
			w.destructive++
		}
	}
	for _, a := range r.inplace {
		if w := by[a.TaskGroup]; w != nil {
			w.inplace++
			w.total++
		}
	}
	for _, a := range append(slices.Clone(r.ignore), r.disconnecting...) {
		if w := by[a.TaskGroup]; w != nil && live(a) {
			w.total++
		}
	}
	for _, p := range r.place {
		by[p.tg.Name].place++
		by[p.tg.Name].total++
	}
	hadRunning := false
	for _, a := range allocs {
		if a.JobVersion == s.job.Version {
			hadRunning = true
			break
		}
	}
	if ro.d == nil {
		// A later deployment of a version (an update a returning node
		// needed) does not wait again for what is already healthy.
		healthy := map[string]int{}
		for _, a := range r.ignore {
			if live(a) && a.JobVersion == s.job.Version && isHealthy(a) {
				healthy[a.TaskGroup]++
			}
		}
		totals := map[string]int{}
		for _, tg := range s.job.TaskGroups {
			total := tg.Count
			if s.job.Type == jobspec.JobTypeSystem {
				total = by[tg.Name].total
			}
			totals[tg.Name] = total - healthy[tg.Name]
		}
		replacing := map[string]int{}
		for name, w := range by {
			replacing[name] = w.destructive
		}
		ro.create(by2(by, func(w *work) bool { return w.destructive+w.inplace > 0 || !hadRunning && w.place > 0 }),
			replacing, totals)
	}
	if ro.d == nil {
		return
	}
	for _, a := range r.disconnecting {
		if a.JobVersion != s.job.Version && ro.d.TaskGroups[a.TaskGroup] != nil {
			ro.skipped[a.TaskGroup]++
		}
	}
	for _, tg := range s.job.TaskGroups {
		u := strategy(s.job, tg)
		g := ro.d.TaskGroups[tg.Name]
		if u == nil || g == nil {
			continue
		}
		ro.gateGroup(r, tg, u, g, allocs)
	}
}

func by2[W any](m map[string]*W, f func(*W) bool) map[string]bool {
	out := map[string]bool{}
	for k, w := range m {
		if f(w) {
			out[k] = true
		}
	}
	return out
}

// create starts a deployment of the job version for the groups that have
// work (canaries only where old allocs are replaced).
// replacing counts, per group, the old allocs a canary could shadow: a
// group asks for no more canaries than that.
func (ro *rollout) create(work map[string]bool, replacing, totals map[string]int) {
	s := ro.s
	d := &structs.Deployment{
		Namespace: s.ns, JobID: s.job.ID, JobVersion: s.job.Version,
		JobModifyIndex: s.job.JobModifyIndex, JobCreateIndex: s.job.CreateIndex,
		Status: structs.DeploymentRunning, StatusDescription: structs.DescDeploymentRunning,
		TaskGroups: map[string]*structs.DeploymentState{},
		CreateTime: s.opts.Now, ModifyTime: s.opts.Now,
	}
	needsPromotion, autoPromote := false, true
	for _, tg := range s.job.TaskGroups {
		u := strategy(s.job, tg)
		if u == nil || !work[tg.Name] {
			continue
		}
		g := &structs.DeploymentState{
			AutoRevert: u.AutoRevert, AutoPromote: u.AutoPromote,
			ProgressDeadline: int64(u.ProgressDeadline), DesiredTotal: max(totals[tg.Name], 0),
		}
		if u.ProgressDeadline > 0 {
			g.RequireProgressBy = s.opts.Now + int64(u.ProgressDeadline)
		}
		if u.Canary > 0 && replacing[tg.Name] > 0 {
			g.DesiredCanaries = min(u.Canary, replacing[tg.Name])
			needsPromotion = true
			autoPromote = autoPromote && u.AutoPromote
		}
		d.TaskGroups[tg.Name] = g
	}
	if len(d.TaskGroups) == 0 {
		return
	}
	d.ID = s.opts.NewID()
	if needsPromotion {
		d.StatusDescription = structs.DescDeploymentNeedsPromotion
		if autoPromote {
			d.StatusDescription = structs.DescDeploymentAutoPromote
		}
	}
	ro.d, ro.isNew = d, true
}

// gateGroup applies the deployment to one group's buckets.
func (ro *rollout) gateGroup(r *reconcileResult, tg *jobspec.TaskGroup, u *jobspec.UpdateStrategy, g *structs.DeploymentState, allocs []*structs.Allocation) {
	s := ro.s
	var destructive []*structs.Allocation
	for _, a := range r.destructive {
		if a.TaskGroup == tg.Name {
			destructive = append(destructive, a)
		}
	}
	canarying := g.DesiredCanaries > 0 && !g.Promoted
	limit := 0
	switch {
	case ro.d.Status != structs.DeploymentRunning && ro.d.Status != structs.DeploymentPending:
		// Failed, paused or cancelled: nothing more of the old version stops.
	case canarying:
		ro.placeCanaries(r, tg, g, destructive)
	default:
		limit = u.MaxParallel
		for _, a := range allocs {
			if a.TaskGroup != tg.Name || a.DeploymentID != ro.d.ID || !live(a) || s.stopping[a.ID] || isHealthy(a) {
				continue
			}
			if i, ok := s.nodeByID[a.NodeID]; ok && s.nodes[i].Status == structs.NodeDisconnected {
				continue // skipped: neither healthy nor blocking
			}
			limit--
		}
	}
	if len(destructive) <= max(limit, 0) {
		return
	}
	hold := map[string]bool{}
	for _, a := range destructive[max(limit, 0):] {
		hold[a.ID] = true
		r.ignore = append(r.ignore, a)
	}
	r.destructive = slices.DeleteFunc(r.destructive, func(a *structs.Allocation) bool { return hold[a.ID] })
	r.place = slices.DeleteFunc(r.place, func(p placeReq) bool { return p.previous != nil && hold[p.previous.ID] })
}

// placeCanaries asks for the canaries the group still lacks, each on the
// index of an old alloc it shadows.
func (ro *rollout) placeCanaries(r *reconcileResult, tg *jobspec.TaskGroup, g *structs.DeploymentState, destructive []*structs.Allocation) {
	have := len(ro.canaryIdx[tg.Name])
	for _, a := range destructive {
		if have >= g.DesiredCanaries {
			return
		}
		if ro.canaryIdx[tg.Name][a.Index] {
			continue
		}
		r.place = append(r.place, placeReq{tg: tg, index: a.Index, node: -1})
		ro.markCanary(&structs.Allocation{TaskGroup: tg.Name, Index: a.Index})
		have++
	}
}

// stamp writes the deployment into the plan and marks what the plan
// places as the deployment's: new allocs carry its ID (canaries their
// flag); in-place updates join it already healthy when running, since
// nothing about them was restarted.
func (ro *rollout) stamp(r *reconcileResult, allocs []*structs.Allocation) {
	s := ro.s
	d := ro.d
	if d == nil {
		return
	}
	if ro.isNew || ro.skippedChanged() {
		c := *d
		c.TaskGroups = make(map[string]*structs.DeploymentState, len(d.TaskGroups))
		for name, g := range d.TaskGroups {
			gc := *g
			gc.DisconnectedSkipped = ro.skipped[name]
			c.TaskGroups[name] = &gc
		}
		c.ModifyTime = s.opts.Now
		s.plan.Deployment = &c
	}
	if !d.Active() {
		return
	}
	existing := make(map[string]bool, len(allocs))
	for _, a := range allocs {
		existing[a.ID] = true
	}
	inplace := map[string]bool{}
	for _, a := range r.inplace {
		inplace[a.ID] = true
	}
	for _, a := range s.plan.Place {
		if d.TaskGroups[a.TaskGroup] == nil {
			continue
		}
		switch {
		case !existing[a.ID]:
			a.DeploymentID = d.ID
			if a.PreviousAllocation == "" && ro.canaryIdx[a.TaskGroup][a.Index] && a.JobVersion == s.job.Version {
				a.DeploymentStatus = &structs.AllocDeploymentStatus{Canary: true}
			}
		case inplace[a.ID] && a.DeploymentID != d.ID:
			a.DeploymentID = d.ID
			a.DeploymentStatus = nil
			if a.ClientStatus == protocol.AllocRunning {
				ok := true
				a.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: &ok, Timestamp: s.opts.Now}
			}
		}
	}
}

func (ro *rollout) skippedChanged() bool {
	for name, g := range ro.d.TaskGroups {
		if g.DisconnectedSkipped != ro.skipped[name] {
			return true
		}
	}
	return false
}
