package scheduler

import (
	"cmp"
	"reflect"
	"slices"
	"strings"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// placeReq asks for one new allocation.
type placeReq struct {
	tg       *jobspec.TaskGroup
	index    int
	previous *structs.Allocation // the alloc this one replaces, if any
	node     int                 // node index it must go on (system jobs), or -1
}

// stopReq stops one allocation.
type stopReq struct {
	alloc *structs.Allocation
	desc  string
}

// reconcileResult sorts a job's allocations into buckets, like Nomad's
// AllocReconciler. Every live allocation of the job lands in exactly one
// bucket; apply turns the buckets into a plan.
type reconcileResult struct {
	place       []placeReq            // new allocs, including replacements
	stop        []stopReq             // scale-down, removed groups, infeasible nodes
	destructive []*structs.Allocation // old version, stopped and replaced (replacement in place)
	inplace     []*structs.Allocation // old version, updated to the new version where it runs
	lost        []*structs.Allocation // node down or client lost: stopped as lost (replacement in place, if any)
	// disconnecting holds allocs on disconnected nodes and reconnecting
	// holds unknown allocs whose node is back. Both are left alone for now:
	// disconnect/reconnect handling owns them.
	disconnecting []*structs.Allocation
	reconnecting  []*structs.Allocation
	ignore        []*structs.Allocation // running as they should, or finished batch work
}

// slot kinds: what to do with a live alloc that holds an index.
type slotKind int

const (
	slotUntainted slotKind = iota
	slotInplace
	slotDestructive
	slotLost
	slotDisconnecting
	slotReconnecting
	slotDone // finished batch alloc: holds its index, never replaced
)

type slot struct {
	a    *structs.Allocation
	kind slotKind
}

// reconcileGeneric reconciles a service or batch job. allocs are all of the
// job's allocations, sorted by compareAllocs; node looks a node up by ID.
func reconcileGeneric(job *jobspec.Job, allocs []*structs.Allocation, nodeByID map[string]int, nodes []*structs.Node) *reconcileResult {
	r := &reconcileResult{}
	replaced := map[string]bool{}
	byGroup := map[string][]*structs.Allocation{}
	for _, a := range allocs {
		if a.PreviousAllocation != "" {
			replaced[a.PreviousAllocation] = true
		}
		byGroup[a.TaskGroup] = append(byGroup[a.TaskGroup], a)
	}
	nodeOf := func(id string) *structs.Node {
		if i, ok := nodeByID[id]; ok {
			return nodes[i]
		}
		return nil
	}
	// Groups the job no longer has.
	for _, a := range allocs {
		if job.LookupTaskGroup(a.TaskGroup) == nil && live(a) {
			r.stop = append(r.stop, stopReq{a, DescNotNeeded})
		}
	}
	batch := job.Type == jobspec.JobTypeBatch
	for _, tg := range job.TaskGroups {
		var slots []slot
		reschedule := map[int]*structs.Allocation{} // service: finished allocs to replace, by index
		for _, a := range byGroup[tg.Name] {
			if a.DesiredStatus == protocol.DesiredStop {
				continue
			}
			node := nodeOf(a.NodeID)
			switch {
			case a.ClientStatus == protocol.AllocLost || node == nil || node.Status == structs.NodeDown:
				if a.ClientStatus != protocol.AllocLost && (a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed) {
					// Finished before its node went away.
					if batch {
						slots = append(slots, slot{a, slotDone})
					}
					continue
				}
				if replaced[a.ID] {
					r.lost = append(r.lost, a) // already replaced: just mark it
					continue
				}
				slots = append(slots, slot{a, slotLost})
			case a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed:
				if batch {
					slots = append(slots, slot{a, slotDone})
				} else if !replaced[a.ID] {
					reschedule[a.Index] = a // the latest by ID order wins
				}
			case node.Status == structs.NodeDisconnected:
				slots = append(slots, slot{a, slotDisconnecting})
			case a.ClientStatus == protocol.AllocUnknown:
				slots = append(slots, slot{a, slotReconnecting})
			case a.JobVersion != job.Version:
				if inplaceOK(a, job, tg, node) {
					slots = append(slots, slot{a, slotInplace})
				} else {
					slots = append(slots, slot{a, slotDestructive})
				}
			default:
				slots = append(slots, slot{a, slotUntainted})
			}
		}
		slots = scaleDown(r, slots, tg.Count)
		used := map[int]bool{}
		for _, s := range slots {
			used[s.a.Index] = true
			switch s.kind {
			case slotUntainted, slotDone:
				r.ignore = append(r.ignore, s.a)
			case slotInplace:
				r.inplace = append(r.inplace, s.a)
			case slotDestructive:
				r.destructive = append(r.destructive, s.a)
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotLost:
				r.lost = append(r.lost, s.a)
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotDisconnecting:
				r.disconnecting = append(r.disconnecting, s.a)
			case slotReconnecting:
				r.reconnecting = append(r.reconnecting, s.a)
			}
		}
		for idx, missing := 0, tg.Count-len(slots); missing > 0; idx++ {
			if used[idx] {
				continue
			}
			r.place = append(r.place, placeReq{tg: tg, index: idx, previous: reschedule[idx], node: -1})
			missing--
		}
	}
	return r
}

// scaleDown removes slots beyond count: lost ones first, then the highest
// indices. Disconnected, reconnecting and finished allocs are never removed
// here. It returns the slots that remain.
func scaleDown(r *reconcileResult, slots []slot, count int) []slot {
	excess := len(slots) - count
	if excess <= 0 {
		return slots
	}
	var removable []int
	for i, s := range slots {
		switch s.kind {
		case slotUntainted, slotInplace, slotDestructive, slotLost:
			removable = append(removable, i)
		}
	}
	slices.SortFunc(removable, func(i, j int) int {
		a, b := slots[i], slots[j]
		if (a.kind == slotLost) != (b.kind == slotLost) {
			if a.kind == slotLost {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.a.Index, a.a.Index); c != 0 {
			return c
		}
		return strings.Compare(b.a.ID, a.a.ID)
	})
	drop := map[int]bool{}
	for _, i := range removable[:min(excess, len(removable))] {
		drop[i] = true
		if slots[i].kind == slotLost {
			r.lost = append(r.lost, slots[i].a)
		} else {
			r.stop = append(r.stop, stopReq{slots[i].a, DescNotNeeded})
		}
	}
	kept := slots[:0:0]
	for i, s := range slots {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	return kept
}

// inplaceOK reports whether an alloc of an older job version can be
// updated where it runs: nothing that reaches the node changed (the group
// apart from its count, the job's constraints and meta) and its node is
// still in the job's datacenters.
func inplaceOK(a *structs.Allocation, job *jobspec.Job, tg *jobspec.TaskGroup, node *structs.Node) bool {
	if a.Job == nil {
		return false
	}
	old := a.Job.LookupTaskGroup(tg.Name)
	if old == nil {
		return false
	}
	o, n := *old, *tg
	o.Count, n.Count = 0, 0
	if !reflect.DeepEqual(o, n) ||
		!reflect.DeepEqual(a.Job.Constraints, job.Constraints) ||
		!reflect.DeepEqual(a.Job.Meta, job.Meta) {
		return false
	}
	dcs := job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	return dcMatch(dcs, node.Datacenter)
}
