package scheduler

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// reconcileSystem reconciles a system job: one alloc of each group on every
// ready, eligible node of the job's datacenters that passes the group's
// drivers and constraints. Allocs on nodes that no longer pass (drained,
// left the datacenters, constraints fail) are stopped; allocs on ineligible
// or initializing nodes are kept, as Nomad keeps them. On a disconnected
// node, allocs inside their group's lost_after window turn unknown and are
// kept (a system alloc is never replaced elsewhere); without a window, or
// once it ran out, they are lost.
//
// A sysbatch job is the same, except that it runs once per node: an alloc
// of the job's current version that finished on a node (complete, or
// failed once the agent's restart policy gave up) is not run again there.
// One that central stopped or lost before it finished does not count, so
// the job runs again when the node is back and eligible; a new version of
// the job runs again everywhere, as Nomad's sysbatch does.
func (s *sched) reconcileSystem(allocs []*structs.Allocation) *reconcileResult {
	sysbatch := s.job.Type == jobspec.JobTypeSysBatch
	r := &reconcileResult{}
	replaced := map[string]bool{}
	for _, a := range allocs {
		if a.PreviousAllocation != "" {
			replaced[a.PreviousAllocation] = true
		}
	}
	for _, a := range allocs {
		if s.job.LookupTaskGroup(a.TaskGroup) == nil && live(a) {
			r.stop = append(r.stop, stopReq{a, DescNotNeeded})
		}
	}
	dcs := s.job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	for _, tg := range s.job.TaskGroups {
		g := s.group(tg)
		onNode := map[int][]*structs.Allocation{}
		finished := map[int]*structs.Allocation{}
		done := map[int]bool{} // sysbatch: nodes where this version already ran
		for _, a := range allocs {
			if a.TaskGroup != tg.Name {
				continue
			}
			i, known := s.nodeByID[a.NodeID]
			if a.DesiredStatus == protocol.DesiredStop {
				if known && a.DesiredDescription == structs.DescStoppedByOperator && !replaced[a.ID] && finished[i] == nil {
					finished[i] = a // alloc stop: its replacement names it
				}
				continue
			}
			switch {
			case a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed:
				if sysbatch && a.JobVersion == s.job.Version {
					if known {
						done[i] = true
					}
				} else if known && !replaced[a.ID] {
					finished[i] = a
				}
			case a.ClientStatus == protocol.AllocLost || !known || s.nodes[i].Status == structs.NodeDown:
				r.lost = append(r.lost, a) // nothing replaces it: its node is gone
			default:
				onNode[i] = append(onNode[i], a)
			}
		}
		window, hasWindow := DisconnectWindow(tg)
		for i, n := range s.nodes {
			list := onNode[i]
			if n.Status == structs.NodeDisconnected {
				for _, a := range list {
					switch {
					case n.Drain || !hasWindow || a.ClientStatus == protocol.AllocUnknown && disconnectExpired(a, window, s.opts.Now):
						r.lost = append(r.lost, a)
					case a.ClientStatus == protocol.AllocUnknown:
						r.disconnecting = append(r.disconnecting, a)
					default:
						r.disconnecting = append(r.disconnecting, a)
						r.markUnknown = append(r.markUnknown, a)
					}
				}
				continue
			}
			var keep *structs.Allocation
			for _, a := range list {
				if a.ClientStatus == protocol.AllocUnknown {
					r.reconnecting = append(r.reconnecting, a)
					keep = a
				} else if _, back := disconnectedSince(a); back {
					r.reconnected = append(r.reconnected, a)
				}
			}
			fits := !n.Drain && dcMatch(dcs, n.Datacenter) && s.staticOK(g, i)
			for _, a := range list {
				switch {
				case a.ClientStatus == protocol.AllocUnknown:
				case !fits:
					r.stop = append(r.stop, stopReq{a, DescNodeInfeasible})
				case keep != nil:
					r.stop = append(r.stop, stopReq{a, DescNotNeeded}) // a duplicate
				case a.JobVersion != s.job.Version && !inplaceOK(a, s.job, tg, n):
					r.destructive = append(r.destructive, a)
					r.place = append(r.place, placeReq{tg: tg, index: 0, previous: a, node: i})
					keep = a
				case a.JobVersion != s.job.Version:
					r.inplace = append(r.inplace, a)
					keep = a
				default:
					r.ignore = append(r.ignore, a)
					keep = a
				}
			}
			if keep == nil && s.isCand[i] && fits && !done[i] {
				r.place = append(r.place, placeReq{tg: tg, index: 0, previous: finished[i], node: i})
			}
		}
	}
	return r
}

// NodeMayRun reports whether a system or sysbatch job may want an
// allocation on n: n is in one of the job's datacenters and passes the
// drivers and constraints of at least one of its groups (distinct_*
// constraints aside, which depend on the job's other allocations). Central
// uses it to pick the jobs to evaluate when a node becomes eligible again;
// the scheduler still decides.
func NodeMayRun(job *jobspec.Job, n *structs.Node) bool {
	if job == nil || n == nil {
		return false
	}
	dcs := job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	if !dcMatch(dcs, n.Datacenter) {
		return false
	}
	s := &sched{job: job, nodes: []*structs.Node{n}, nodeByID: map[string]int{n.ID: 0}, groups: map[string]*groupCtx{}}
	for _, tg := range job.TaskGroups {
		if tg != nil && s.staticOK(s.group(tg), 0) {
			return true
		}
	}
	return false
}
