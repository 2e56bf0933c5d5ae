package scheduler

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Disconnect and reconnect vocabulary written on allocations.
const (
	// DescReconnectNotNeeded is the desired description of the alloc that
	// lost the reconnect choice.
	DescReconnectNotNeeded = "alloc not needed after reconnect"

	// EventDisconnected is recorded when an alloc's client status becomes
	// unknown because its node disconnected. Its Time starts the group's
	// lost_after window. The leader should record it too when it marks
	// allocs unknown itself.
	EventDisconnected = "Disconnected"
	// EventReconnected is recorded on an original alloc kept after its
	// node came back.
	EventReconnected = "Reconnected"
)

// Reconcile strategies of a group's disconnect block.
const (
	ReconcileBestScore       = "best_score"
	ReconcileKeepOriginal    = "keep_original"
	ReconcileKeepReplacement = "keep_replacement"
	ReconcileLongestRunning  = "longest_running"
)

// DisconnectWindow returns how long allocs of tg may stay unknown on a
// disconnected node before they count as lost, and whether the group has
// such a window at all (disconnect.lost_after > 0; jobspec.Canonicalize
// folds max_client_disconnect into it). A group without a window loses its
// allocs as soon as their node misses its heartbeat TTL. The leader uses
// the same rule to choose between "disconnected" and "down".
func DisconnectWindow(tg *jobspec.TaskGroup) (time.Duration, bool) {
	if tg == nil || tg.Disconnect == nil || tg.Disconnect.LostAfter <= 0 {
		return 0, false
	}
	return tg.Disconnect.LostAfter, true
}

// replaceOnDisconnect reports whether allocs of tg that become unknown get
// a replacement elsewhere (disconnect.replace, default true).
func replaceOnDisconnect(tg *jobspec.TaskGroup) bool {
	if tg == nil || tg.Disconnect == nil || tg.Disconnect.Replace == nil {
		return true
	}
	return *tg.Disconnect.Replace
}

// reconcileStrategy returns tg's disconnect.reconcile, best_score by default.
func reconcileStrategy(tg *jobspec.TaskGroup) string {
	if tg == nil || tg.Disconnect == nil || tg.Disconnect.Reconcile == "" {
		return ReconcileBestScore
	}
	return tg.Disconnect.Reconcile
}

// disconnectedSince returns the time of a's last Disconnected event when no
// Reconnected event followed it: the alloc went unknown and has not been
// reconciled since.
func disconnectedSince(a *structs.Allocation) (int64, bool) {
	for i := len(a.Events) - 1; i >= 0; i-- {
		switch a.Events[i].Type {
		case EventDisconnected:
			return a.Events[i].Time, true
		case EventReconnected:
			return 0, false
		}
	}
	return 0, false
}

// disconnectExpired reports whether an unknown alloc's window ran out.
// Allocs without a Disconnected event never expire here: the leader marks
// their node down when the window passes.
func disconnectExpired(a *structs.Allocation, window time.Duration, now int64) bool {
	since, ok := disconnectedSince(a)
	return ok && now > 0 && now-since >= int64(window)
}

// slotKey names one slot of a job: a group and an index (the alloc's Name
// is job.group[index]).
type slotKey struct {
	group string
	index int
}

// reconcileReconnecting picks one survivor for each slot that holds a
// reconnecting original. originals are allocs whose node came back after
// they went unknown; replacements are the other live allocs of the job
// (usually placed while the node was away). Slots are matched by group and
// index. Per slot:
//
//  1. the highest job version wins: allocs of an older version lose;
//  2. among the rest, the group's disconnect.reconcile decides:
//     best_score keeps the higher Score; keep_original the original;
//     keep_replacement the newest replacement; longest_running the alloc
//     whose tasks started first;
//  3. a tie keeps the original (then the earlier created, then the lower ID).
//
// Every original and every replacement sharing a slot with an original is
// returned in exactly one of keep or stop; replacements in slots without an
// original are in neither. Both lists are sorted by group, index, ID. It
// reads its arguments only.
func reconcileReconnecting(originals, replacements []*structs.Allocation, job *jobspec.Job) (keep, stop []*structs.Allocation) {
	type cand struct {
		a        *structs.Allocation
		original bool
	}
	slots := map[slotKey][]cand{}
	seen := map[string]bool{}
	for _, a := range originals {
		if a == nil || seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		k := slotKey{a.TaskGroup, a.Index}
		slots[k] = append(slots[k], cand{a, true})
	}
	for _, a := range replacements {
		if a == nil || seen[a.ID] {
			continue
		}
		k := slotKey{a.TaskGroup, a.Index}
		if _, ok := slots[k]; !ok {
			continue
		}
		seen[a.ID] = true
		slots[k] = append(slots[k], cand{a, false})
	}
	for k, cs := range slots {
		var tg *jobspec.TaskGroup
		if job != nil {
			tg = job.LookupTaskGroup(k.group)
		}
		strategy := reconcileStrategy(tg)
		newest := uint64(0)
		for _, c := range cs {
			newest = max(newest, c.a.JobVersion)
		}
		// better reports whether x should survive rather than y.
		better := func(x, y cand) int {
			if x.a.JobVersion != y.a.JobVersion {
				return cmp.Compare(y.a.JobVersion, x.a.JobVersion)
			}
			switch strategy {
			case ReconcileKeepOriginal:
				if x.original != y.original {
					return boolFirst(x.original)
				}
			case ReconcileKeepReplacement:
				if x.original != y.original {
					return boolFirst(!x.original)
				}
				if !x.original && x.a.CreateTime != y.a.CreateTime {
					return cmp.Compare(y.a.CreateTime, x.a.CreateTime) // newest replacement
				}
			case ReconcileLongestRunning:
				if c := cmp.Compare(startedAt(x.a), startedAt(y.a)); c != 0 {
					return c
				}
			default: // best_score
				if x.a.Score != y.a.Score {
					return cmp.Compare(y.a.Score, x.a.Score)
				}
			}
			if x.original != y.original {
				return boolFirst(x.original)
			}
			if c := cmp.Compare(x.a.CreateTime, y.a.CreateTime); c != 0 {
				return c
			}
			return strings.Compare(x.a.ID, y.a.ID)
		}
		slices.SortFunc(cs, better)
		keep = append(keep, cs[0].a)
		for _, c := range cs[1:] {
			stop = append(stop, c.a)
		}
	}
	slices.SortFunc(keep, compareAllocs)
	slices.SortFunc(stop, compareAllocs)
	return keep, stop
}

// boolFirst orders true before false.
func boolFirst(b bool) int {
	if b {
		return -1
	}
	return 1
}

// startedAt returns when a's tasks first started (the earliest StartedAt),
// or its CreateTime when no task reported a start.
func startedAt(a *structs.Allocation) int64 {
	var first int64
	for _, ts := range a.TaskStates {
		if ts != nil && ts.StartedAt > 0 && (first == 0 || ts.StartedAt < first) {
			first = ts.StartedAt
		}
	}
	if first == 0 {
		return a.CreateTime
	}
	return first
}

// awaitingReport reports whether a is unknown on a node that is back: the
// agent has not told central about it yet, so no decision is taken.
func awaitingReport(a *structs.Allocation) bool {
	return a.ClientStatus == protocol.AllocUnknown
}
