package scheduler

import (
	"fmt"
	"maps"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// apply turns reconcile buckets into the plan: stops first (they free
// resources for the placements), then in-place updates, then placements.
func (s *sched) apply(r *reconcileResult, allocs []*structs.Allocation) {
	for _, st := range r.stop {
		s.stop(st.alloc, st.desc, "")
	}
	for _, a := range r.lost {
		s.stop(a, DescLost, protocol.AllocLost)
	}
	for _, a := range r.destructive {
		s.stop(a, DescUpdating, "")
	}
	updated := map[string]*structs.Allocation{}
	for _, a := range r.inplace {
		u := *a
		u.Job, u.JobVersion, u.ModifyTime = s.job, s.job.Version, s.opts.Now
		u.Events = nil // plan events are additions: the state store appends them
		s.plan.Place = append(s.plan.Place, &u)
		updated[a.ID] = &u
	}
	for _, a := range r.markUnknown {
		u := *a
		u.ClientStatus, u.ModifyTime = protocol.AllocUnknown, s.opts.Now
		u.Events = []structs.AllocEvent{{Type: EventDisconnected, Time: s.opts.Now, Message: "node disconnected; alloc status unknown"}}
		s.plan.Unknown = append(s.plan.Unknown, &u)
	}
	for _, a := range r.reconnected {
		if s.stopping[a.ID] {
			continue // kept, then updated destructively: the stop says it all
		}
		ev := structs.AllocEvent{Type: EventReconnected, Time: s.opts.Now, Message: "node reconnected; alloc kept"}
		if u := updated[a.ID]; u != nil {
			u.Events = append(u.Events, ev)
			continue
		}
		u := *a
		u.ModifyTime = s.opts.Now
		u.Events = []structs.AllocEvent{ev}
		s.plan.Place = append(s.plan.Place, &u)
	}

	s.jobCount = make([]int32, len(s.nodes))
	for _, a := range allocs {
		if live(a) && !s.stopping[a.ID] {
			s.liveJobAllocs = append(s.liveJobAllocs, a)
			if i, ok := s.nodeByID[a.NodeID]; ok {
				s.jobCount[i]++
			}
		}
	}
	s.primed = true
	for _, g := range s.groups {
		s.countGroup(g)
	}
	for _, p := range s.props {
		s.countProp(p)
	}
	for _, p := range r.place {
		s.place(p)
	}
	s.addFollowups(r.followups) // reschedule.go
}

// stop adds a copy of a to the plan's stop list.
func (s *sched) stop(a *structs.Allocation, desc, clientStatus string) {
	c := *a
	c.DesiredStatus = protocol.DesiredStop
	c.DesiredDescription = desc
	c.ModifyTime = s.opts.Now
	c.Events = nil // plan events are additions: the state store appends them
	if clientStatus != "" {
		c.ClientStatus = clientStatus
	}
	if clientStatus == protocol.AllocLost {
		c.Events = []structs.AllocEvent{{Type: EventLost, Time: s.opts.Now, Message: desc}}
	}
	s.plan.Stop = append(s.plan.Stop, &c)
	s.stopping[a.ID] = true
}

// place finds a node for one placement and adds the new alloc to the plan,
// or records the failure.
func (s *sched) place(p placeReq) {
	g := s.group(p.tg)
	if g.failed != nil {
		// The group failed once in this plan; later placements would fail
		// the same way, since nodes only fill up.
		g.failed.CoalescedFailures++
		s.plan.Queued[p.tg.Name]++
		return
	}
	m := &structs.AllocMetric{NodesAvailable: maps.Clone(s.available)}
	var (
		i     int
		score float64
		ok    bool
	)
	if p.node >= 0 {
		i = p.node
		m.NodesEvaluated++
		if s.feasible(g, i, m) {
			score, ok = s.fit(g, i, m)
		}
	} else {
		if p.reschedule {
			s.penalty = s.penaltyNodes(p.previous) // reschedule.go
		}
		i, score, ok = s.selectNode(g, m)
		s.penalty = nil
	}
	if !ok {
		s.fail(g, m)
		return
	}
	id := s.opts.NewID()
	u := s.usageOf(i)
	ports, ok := s.assignPorts(u, g, id)
	if !ok {
		panic("BUG: scheduler: dynamic ports ran out after fit said they were free")
	}
	n := s.nodes[i]
	a := &structs.Allocation{
		ID:            id,
		Namespace:     s.ns,
		EvalID:        s.eval.ID,
		Name:          fmt.Sprintf("%s.%s[%d]", s.job.ID, p.tg.Name, p.index),
		Index:         p.index,
		NodeID:        n.ID,
		NodeName:      n.Name,
		JobID:         s.job.ID,
		JobVersion:    s.job.Version,
		Job:           s.job,
		TaskGroup:     p.tg.Name,
		Resources:     g.need,
		Ports:         ports,
		DesiredStatus: protocol.DesiredRun,
		ClientStatus:  protocol.AllocPending,
		TaskStates:    map[string]*structs.TaskState{},
		Score:         score,
		Metrics:       m,
		CreateTime:    s.opts.Now,
		ModifyTime:    s.opts.Now,
	}
	if p.previous != nil {
		a.PreviousAllocation = p.previous.ID
	}
	if p.reschedule {
		s.rescheduled(a, p.previous, p.tg)
	}
	s.commit(g, i, a)
}

// commit records a placed alloc in the per-node tables so later placements
// of this plan see it.
func (s *sched) commit(g *groupCtx, i int, a *structs.Allocation) {
	u := s.usageOf(i)
	u.res = u.res.Add(a.Resources) // ports were taken by assignPorts
	u.allocs++
	u.bytes += s.allocBytes(s.job, g.tg) + desired.DatacenterBytes(s.nodes[i].Datacenter)
	s.jobCount[i]++
	g.count[i]++
	n := s.nodes[i]
	for _, p := range s.props {
		if p.group == "" || p.group == a.TaskGroup {
			if v, ok := resolveTarget(p.c.LTarget, n); ok {
				p.counts[v]++
			}
		}
	}
	s.plan.Place = append(s.plan.Place, a)
}

// fail records that one placement of g found no node.
func (s *sched) fail(g *groupCtx, m *structs.AllocMetric) {
	if s.plan.Failed == nil {
		s.plan.Failed = map[string]*structs.AllocMetric{}
	}
	if s.plan.Queued == nil {
		s.plan.Queued = map[string]int{}
	}
	name := g.tg.Name
	if prev := s.plan.Failed[name]; prev != nil {
		prev.CoalescedFailures++ // system jobs fail node by node
	} else {
		s.plan.Failed[name] = m
	}
	s.plan.Queued[name]++
	if !jobspec.OnEveryNode(s.job.Type) {
		g.failed = s.plan.Failed[name]
	}
}
