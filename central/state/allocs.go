package state

import (
	"fmt"
	"slices"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// desiredChanged reports whether an update of an alloc changes what its
// node must run.
func desiredChanged(old, new *structs.Allocation) bool {
	return old.NodeID != new.NodeID || old.DesiredStatus != new.DesiredStatus ||
		old.JobVersion != new.JobVersion || old.TaskGroup != new.TaskGroup ||
		old.Resources != new.Resources || old.Name != new.Name || old.Index != new.Index ||
		!slices.Equal(old.Ports, new.Ports)
}

func (a *applier) applyPlan(op *ApplyPlan) error {
	p := op.Plan
	if p == nil {
		return fmt.Errorf("%w: apply_plan without a plan", ErrBadCommand)
	}
	// Validate everything first: an op applies entirely or not at all.
	jobs := make([]*jobspec.Job, len(p.Place))
	for i, al := range p.Place {
		if al == nil {
			return fmt.Errorf("%w: plan %q: nil placement", ErrBadCommand, p.EvalID)
		}
		if err := checkID("allocation", al.ID); err != nil {
			return err
		}
		if err := checkID("allocation's node", al.NodeID); err != nil {
			return err
		}
		if err := checkID("allocation's job", al.JobID); err != nil {
			return err
		}
		if err := checkNamespace(&al.Namespace); err != nil {
			return err
		}
		if al.DesiredStatus == "" {
			al.DesiredStatus = protocol.DesiredRun
		}
		if al.ClientStatus != "" && !validClientStatus(al.ClientStatus) {
			return fmt.Errorf("%w: allocation %q: unknown client status %q", ErrBadCommand, al.ID, al.ClientStatus)
		}
		jobs[i] = firstTxn[*jobspec.Job](a.txn, TableJobVersions, al.Namespace, al.JobID, al.JobVersion)
		if jobs[i] == nil {
			return fmt.Errorf("%w: plan %q places allocation %q of job %q version %d, which is not stored (purged?): re-evaluate",
				ErrNotFound, p.EvalID, al.ID, al.JobID, al.JobVersion)
		}
	}
	for _, al := range p.Stop {
		if al == nil {
			return fmt.Errorf("%w: plan %q: nil stop", ErrBadCommand, p.EvalID)
		}
		if al.ClientStatus != "" && !validClientStatus(al.ClientStatus) {
			return fmt.Errorf("%w: allocation %q: unknown client status %q", ErrBadCommand, al.ID, al.ClientStatus)
		}
	}
	if op.Eval != nil {
		if err := checkEval(op.Eval); err != nil {
			return err
		}
	}
	for _, e := range op.NewEvals {
		if err := checkEval(e); err != nil {
			return err
		}
	}
	if err := checkFollowups(p); err != nil { // reschedule.go
		return err
	}
	if p.Deployment != nil {
		if err := checkDeployment(p.Deployment); err != nil {
			return err
		}
	}
	for _, u := range p.DeploymentUpdates {
		if u == nil || !validDeploymentStatus(u.Status) {
			return fmt.Errorf("%w: plan %q: bad deployment status update", ErrBadCommand, p.EvalID)
		}
	}

	if p.Deployment != nil {
		a.upsertDeployment(p.Deployment, op.Now)
	}
	for _, u := range p.DeploymentUpdates {
		a.deploymentStatusUpdate(u, op.Now)
	}
	for i, al := range p.Place {
		a.place(al, jobs[i], op.Now)
	}
	for _, al := range p.Stop {
		a.stop(al, op.Now)
	}
	for _, al := range p.Unknown {
		a.markUnknown(al, op.Now)
	}
	if op.Eval != nil {
		a.upsertEval(op.Eval)
	}
	for _, e := range op.NewEvals {
		a.upsertEval(e)
	}
	a.applyFollowups(p)
	return nil
}

// place inserts a new allocation or updates one in place. An update keeps
// what the client reported (status, task states) and what was decided
// before (events, next allocation): the plan may be older than those.
func (a *applier) place(al *structs.Allocation, job *jobspec.Job, now int64) {
	al.Job = job
	al.ModifyIndex = a.index
	al.ModifyTime = now
	al.TaskStates = cleanTaskStates(al.TaskStates)
	if old := firstTxn[*structs.Allocation](a.txn, TableAllocs, al.ID); old != nil {
		al.CreateIndex, al.CreateTime = old.CreateIndex, old.CreateTime
		al.ClientStatus, al.ClientDescription, al.TaskStates = old.ClientStatus, old.ClientDescription, old.TaskStates
		al.Events = appendEvents(old.Events, al.Events...)
		al.Actions = old.Actions // the operator's, never the plan's
		if al.NextAllocation == "" {
			al.NextAllocation = old.NextAllocation
		}
		if al.DeploymentID == old.DeploymentID {
			// Health is the agent's to report: a plan made before its
			// latest report does not undo it.
			al.DeploymentStatus = old.DeploymentStatus
		}
		if desiredChanged(old, al) {
			a.nodes[old.NodeID] = true
			a.nodes[al.NodeID] = true
		}
		if old.Namespace != al.Namespace || old.JobID != al.JobID {
			a.jobs[jobKey{old.Namespace, old.JobID}] = true
		}
	} else {
		al.CreateIndex = a.index
		if al.CreateTime == 0 {
			al.CreateTime = now
		}
		if al.ClientStatus == "" {
			al.ClientStatus = protocol.AllocPending
		}
		a.nodes[al.NodeID] = true
	}
	a.insert(TableAllocs, al)
	a.jobs[jobKey{al.Namespace, al.JobID}] = true

	if al.PreviousAllocation != "" && al.PreviousAllocation != al.ID {
		if prev := firstTxn[*structs.Allocation](a.txn, TableAllocs, al.PreviousAllocation); prev != nil && prev.NextAllocation != al.ID {
			c := *prev
			c.NextAllocation = al.ID
			c.ModifyIndex = a.index
			a.insert(TableAllocs, &c)
		}
	}
}

// stop applies a plan's stop entry: desired status and description, the
// client status if set (e.g. lost), and its events.
func (a *applier) stop(s *structs.Allocation, now int64) {
	old := firstTxn[*structs.Allocation](a.txn, TableAllocs, s.ID)
	if old == nil {
		a.res.Ignored++
		return
	}
	c := *old
	c.DesiredStatus = s.DesiredStatus
	if c.DesiredStatus == "" {
		c.DesiredStatus = protocol.DesiredStop
	}
	c.DesiredDescription = s.DesiredDescription
	if s.ClientStatus != "" {
		c.ClientStatus = s.ClientStatus
		if s.ClientDescription != "" {
			c.ClientDescription = s.ClientDescription
		}
	}
	c.Events = appendEvents(old.Events, s.Events...)
	c.ModifyIndex = a.index
	c.ModifyTime = now
	if c.DesiredStatus != old.DesiredStatus {
		a.nodes[c.NodeID] = true
	}
	a.insert(TableAllocs, &c)
	if clientTerminal(c.ClientStatus) {
		a.dropAllocServices(c.ID)
	}
	a.jobs[jobKey{c.Namespace, c.JobID}] = true
}

// markUnknown applies a plan's unknown entry: the alloc's node disconnected
// inside its group's disconnect window. It stays desired "run" and keeps its
// services; the plan's events (Disconnected) are appended.
func (a *applier) markUnknown(u *structs.Allocation, now int64) {
	if u == nil {
		return
	}
	old := firstTxn[*structs.Allocation](a.txn, TableAllocs, u.ID)
	if old == nil || clientTerminal(old.ClientStatus) {
		a.res.Ignored++
		return
	}
	c := *old
	c.ClientStatus = protocol.AllocUnknown
	c.Events = appendEvents(old.Events, u.Events...)
	c.ModifyIndex = a.index
	c.ModifyTime = now
	a.insert(TableAllocs, &c)
	a.jobs[jobKey{c.Namespace, c.JobID}] = true
}

// clientUpdate applies a node's report about its allocations. Reports about
// allocs that do not exist or that belong to another node are ignored and
// counted.
func (a *applier) clientUpdate(op *ClientUpdate) error {
	node, err := a.node(op.NodeID)
	if err != nil {
		return err
	}
	for i := range op.Allocs {
		u := &op.Allocs[i]
		old := firstTxn[*structs.Allocation](a.txn, TableAllocs, u.ID)
		if old == nil || old.NodeID != op.NodeID || (u.ClientStatus != "" && !validClientStatus(u.ClientStatus)) {
			a.res.Ignored++
			continue
		}
		if u.Seq != 0 && u.Seq <= old.ClientSeq && old.ClientStatus != protocol.AllocUnknown {
			// A replay or duplicate of a report already applied. (An
			// unknown alloc takes its agent's report whatever its number:
			// central, not the agent, changed it since.)
			a.res.Ignored++
			continue
		}
		if old.ClientStatus == "lost" {
			// Central gave up on it and placed a replacement; a node that
			// comes back late cannot revive it (its desired state tells
			// the agent to stop it).
			a.res.Ignored++
			continue
		}
		c := *old
		c.ClientSeq = max(old.ClientSeq, u.Seq)
		if u.ClientStatus != "" {
			c.ClientStatus = u.ClientStatus
		}
		c.ClientDescription = u.ClientDescription
		if u.TaskStates != nil {
			c.TaskStates = cleanTaskStates(u.TaskStates)
		}
		c.ModifyIndex = a.index
		c.ModifyTime = u.ModifyTime
		if c.ModifyTime == 0 {
			c.ModifyTime = op.Now
		}
		a.applyHealth(&c, u.Health) // health.go
		a.insert(TableAllocs, &c)
		a.jobs[jobKey{c.Namespace, c.JobID}] = true
		if clientTerminal(c.ClientStatus) {
			a.dropAllocServices(c.ID)
		} else {
			a.setAllocServices(&c, node, u.Services)
		}
	}
	if op.Seq > node.LastSeq {
		n := *node
		n.LastSeq = op.Seq
		n.ModifyIndex = a.index
		a.insert(TableNodes, &n)
	}
	return nil
}

// allocEvents records a central decision on allocations.
func (a *applier) allocEvents(op *AllocEvents) error {
	if op.ClientStatus != "" && !validClientStatus(op.ClientStatus) {
		return fmt.Errorf("%w: alloc_events: unknown client status %q", ErrBadCommand, op.ClientStatus)
	}
	for _, id := range op.AllocIDs {
		old := firstTxn[*structs.Allocation](a.txn, TableAllocs, id)
		if old == nil {
			a.res.Ignored++
			continue
		}
		c := *old
		c.Events = appendEvents(old.Events, op.Event)
		if op.ClientStatus != "" {
			c.ClientStatus = op.ClientStatus
		}
		c.ModifyIndex = a.index
		if op.Event.Time != 0 {
			c.ModifyTime = op.Event.Time
		}
		a.insert(TableAllocs, &c)
		if clientTerminal(c.ClientStatus) {
			a.dropAllocServices(c.ID)
		}
		a.jobs[jobKey{c.Namespace, c.JobID}] = true
	}
	return nil
}
