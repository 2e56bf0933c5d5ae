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
	// reschedule: previous failed and is rescheduled (reschedule.go):
	// its tracker is carried over, its nodes are penalised.
	reschedule bool
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
	stop        []stopReq             // scale-down, removed groups, infeasible nodes, reconnect losers
	destructive []*structs.Allocation // old version, stopped and replaced (replacement in place)
	inplace     []*structs.Allocation // old version, updated to the new version where it runs
	lost        []*structs.Allocation // node down or client lost: stopped as lost (replacement in place, if any)
	// disconnecting holds live allocs on disconnected nodes inside their
	// group's lost_after window. They keep running; markUnknown lists those
	// whose client status must become unknown, and place holds their
	// replacements (disconnect.replace, default true).
	disconnecting []*structs.Allocation
	markUnknown   []*structs.Allocation
	// reconnecting holds unknown allocs on a node that is back but has not
	// reported them yet: left alone until it does.
	reconnecting []*structs.Allocation
	// reconnected holds originals that came back and were kept: they get a
	// Reconnected event (and otherwise follow the usual update rules).
	reconnected []*structs.Allocation
	ignore      []*structs.Allocation // running as they should, or finished batch work
	followups   []followup            // failed allocs to reschedule later (reschedule.go)
}

// slot kinds: what to do with a live alloc that holds an index.
type slotKind int

const (
	slotUntainted slotKind = iota
	slotInplace
	slotDestructive
	slotLost
	slotDisconnecting        // unknown, not replaced (replace = false): holds its index
	slotDisconnectingReplace // unknown, replaced now: the replacement holds its index
	slotReconnecting         // unknown on a node that is back, not replaced: holds its index
	slotDone                 // finished batch alloc: holds its index, never replaced
	slotMigrate              // on a draining node: stopped and replaced elsewhere
	slotReschedule           // failed, rescheduled now: replaced (reschedule.go)
	slotFailed               // failed, not rescheduled (yet): holds its index
)

type slot struct {
	a    *structs.Allocation
	kind slotKind
}

// reconcileGeneric reconciles a service or batch job. allocs are all of the
// job's allocations, sorted by compareAllocs; nodeByID looks a node up by
// ID; now (unix ns) ends lost_after windows.
func reconcileGeneric(job *jobspec.Job, allocs []*structs.Allocation, nodeByID map[string]int, nodes []*structs.Node, now int64, evalID string) *reconcileResult {
	r := &reconcileResult{}
	replaced := map[string]bool{}     // some alloc names it as PreviousAllocation
	liveReplaced := map[string]bool{} // a live alloc names it as PreviousAllocation
	byGroup := map[string][]*structs.Allocation{}
	for _, a := range allocs {
		if a.PreviousAllocation != "" {
			replaced[a.PreviousAllocation] = true
			if live(a) {
				liveReplaced[a.PreviousAllocation] = true
			}
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
		window, hasWindow := DisconnectWindow(tg)
		var returning, rest []*structs.Allocation // reconnect originals; allocs running as usual
		var away []slot                           // disconnecting allocs that hold their index
		var later []followup                      // failed allocs due for a reschedule later
		stopped := map[int]*structs.Allocation{}  // stopped by an operator, not replaced yet
		for _, a := range byGroup[tg.Name] {
			if a.DesiredStatus == protocol.DesiredStop {
				if a.DesiredDescription == structs.DescStoppedByOperator && !replaced[a.ID] {
					stopped[a.Index] = a // its replacement names it (alloc stop)
				}
				continue
			}
			node := nodeOf(a.NodeID)
			// A draining node that drops out is not waited for (Nomad's
			// rule): its allocs are lost at once, not unknown.
			disconnected := node != nil && node.Status == structs.NodeDisconnected && !node.Drain
			drainedAway := node != nil && node.Status == structs.NodeDisconnected && node.Drain
			finished := a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed
			gone := node == nil || node.Status == structs.NodeDown || drainedAway ||
				disconnected && (!hasWindow || a.ClientStatus == protocol.AllocUnknown && disconnectExpired(a, window, now))
			switch {
			case a.ClientStatus == protocol.AllocLost || gone && !finished:
				if replaced[a.ID] {
					r.lost = append(r.lost, a) // already replaced: just mark it
					continue
				}
				slots = append(slots, slot{a, slotLost})
			case a.ClientStatus == protocol.AllocFailed:
				if replaced[a.ID] {
					continue // rescheduled: its replacement holds the index
				}
				dec, at := decideReschedule(a, tg, job.Type, evalID, now) // reschedule.go
				switch {
				case dec == reschedNow:
					slots = append(slots, slot{a, slotReschedule})
				case !batch && a.JobVersion != job.Version:
					slots = append(slots, slot{a, slotDestructive}) // a new version replaces it at once
				default:
					slots = append(slots, slot{a, slotFailed})
					if dec == reschedLater {
						later = append(later, followup{a, at})
					}
				}
			case finished:
				if batch {
					slots = append(slots, slot{a, slotDone})
				} else if !gone && !replaced[a.ID] {
					reschedule[a.Index] = a // the latest by ID order wins
				}
			case disconnected:
				r.disconnecting = append(r.disconnecting, a)
				if a.ClientStatus != protocol.AllocUnknown {
					r.markUnknown = append(r.markUnknown, a)
				}
				switch {
				case replaced[a.ID]:
					// Its replacement holds the index.
				case replaceOnDisconnect(tg):
					away = append(away, slot{a, slotDisconnectingReplace})
				default:
					away = append(away, slot{a, slotDisconnecting})
				}
			case awaitingReport(a):
				r.reconnecting = append(r.reconnecting, a)
				if !replaced[a.ID] {
					slots = append(slots, slot{a, slotReconnecting})
				}
			default:
				if _, back := disconnectedSince(a); back || liveReplaced[a.ID] {
					returning = append(returning, a)
				} else {
					rest = append(rest, a)
				}
			}
		}
		if len(returning) > 0 {
			keep, lose := reconcileReconnecting(returning, rest, job)
			losing := map[string]bool{}
			for _, a := range lose {
				losing[a.ID] = true
				r.stop = append(r.stop, stopReq{a, DescReconnectNotNeeded})
			}
			rest = slices.DeleteFunc(rest, func(a *structs.Allocation) bool { return losing[a.ID] })
			back := map[int]bool{}
			for _, a := range keep {
				if slices.Contains(returning, a) {
					r.reconnected = append(r.reconnected, a)
					rest = append(rest, a)
					back[a.Index] = true
				}
			}
			slices.SortFunc(rest, compareAllocs)
			// A replacement that is itself away no longer holds the index
			// its original came back to; it competes when its node returns.
			away = slices.DeleteFunc(away, func(s slot) bool { return back[s.a.Index] })
		}
		slots = append(slots, away...)
		for _, a := range rest {
			switch n := nodeOf(a.NodeID); {
			case n != nil && n.Drain:
				slots = append(slots, slot{a, slotMigrate})
			case a.JobVersion != job.Version && inplaceOK(a, job, tg, nodeOf(a.NodeID)):
				slots = append(slots, slot{a, slotInplace})
			case a.JobVersion != job.Version:
				slots = append(slots, slot{a, slotDestructive})
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
			case slotFailed:
				r.ignore = append(r.ignore, s.a)
				if i := slices.IndexFunc(later, func(f followup) bool { return f.a == s.a }); i >= 0 {
					r.followups = append(r.followups, later[i])
				}
			case slotReschedule:
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1, reschedule: true})
			case slotInplace:
				r.inplace = append(r.inplace, s.a)
			case slotDestructive:
				r.destructive = append(r.destructive, s.a)
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotLost:
				r.lost = append(r.lost, s.a)
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotMigrate:
				r.stop = append(r.stop, stopReq{s.a, DescMigrating})
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotDisconnectingReplace:
				r.place = append(r.place, placeReq{tg: tg, index: s.a.Index, previous: s.a, node: -1})
			case slotDisconnecting, slotReconnecting:
				// Held: the disconnect window or the agent's report decides.
			}
		}
		for idx, missing := 0, tg.Count-len(slots); missing > 0; idx++ {
			if used[idx] {
				continue
			}
			prev := reschedule[idx]
			if prev == nil {
				prev = stopped[idx]
			}
			r.place = append(r.place, placeReq{tg: tg, index: idx, previous: prev, node: -1})
			missing--
		}
	}
	return r
}

// scaleDown removes slots beyond count: lost and failed ones first, then
// those on draining nodes, then the highest indices. Disconnecting,
// reconnecting and finished batch allocs are never removed here. It returns the slots that remain.
func scaleDown(r *reconcileResult, slots []slot, count int) []slot {
	excess := len(slots) - count
	if excess <= 0 {
		return slots
	}
	var removable []int
	for i, s := range slots {
		switch s.kind {
		case slotUntainted, slotInplace, slotDestructive, slotLost, slotMigrate, slotFailed, slotReschedule:
			removable = append(removable, i)
		}
	}
	slices.SortFunc(removable, func(i, j int) int {
		a, b := slots[i], slots[j]
		if lostOrFailed(a.kind) != lostOrFailed(b.kind) {
			if lostOrFailed(a.kind) {
				return -1
			}
			return 1
		}
		if (a.kind == slotMigrate) != (b.kind == slotMigrate) {
			if a.kind == slotMigrate {
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

// lostOrFailed: slots scale-down removes first.
func lostOrFailed(k slotKind) bool {
	return k == slotLost || k == slotFailed || k == slotReschedule
}

// inplaceOK reports whether an alloc of an older job version can be
// updated where it runs: nothing that reaches the node changed (the group
// apart from its count and reschedule policy, the job's constraints and meta) and its node is
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
	o.Reschedule, n.Reschedule = nil, nil // central's policy: nothing on the node changes (as Nomad)
	o.Update, n.Update = nil, nil         // how versions roll out, not what runs (as Nomad's tasksUpdated)
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
