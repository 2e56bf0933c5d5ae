package scheduler

import (
	"github.com/tether-edge/tether/central/structs"
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
func (s *sched) reconcileSystem(allocs []*structs.Allocation) *reconcileResult {
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
		for _, a := range allocs {
			if a.TaskGroup != tg.Name || a.DesiredStatus == protocol.DesiredStop {
				continue
			}
			i, known := s.nodeByID[a.NodeID]
			switch {
			case a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed:
				if known && !replaced[a.ID] {
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
			if keep == nil && s.isCand[i] && fits {
				r.place = append(r.place, placeReq{tg: tg, index: 0, previous: finished[i], node: i})
			}
		}
	}
	return r
}
