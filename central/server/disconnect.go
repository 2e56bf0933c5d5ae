package server

import (
	"container/heap"
	"slices"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// A node that misses its heartbeats becomes `disconnected` when any of its
// live allocations belongs to a group with a disconnect window
// (disconnect.lost_after, or max_client_disconnect), else `down`. While it
// is disconnected the scheduler marks its allocations `unknown` and places
// replacements; each window's end is a timer here that evaluates the jobs
// again (the scheduler marks the allocations whose window passed `lost`),
// and the longest one marks the node down.

// windowExpiry is one disconnect window ending for one node.
type windowExpiry struct {
	at    int64 // unix ns
	node  string
	since int64 // the node's StatusUpdatedAt when it was disconnected
	last  bool  // the longest window: the node goes down
}

// expiries is a min-heap of window ends, owned by the leader loop.
type expiries []windowExpiry

func (e expiries) Len() int           { return len(e) }
func (e expiries) Less(i, j int) bool { return e[i].at < e[j].at }
func (e expiries) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *expiries) Push(x any)        { *e = append(*e, x.(windowExpiry)) }
func (e *expiries) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// due removes and returns the expiries at or before now.
func (e *expiries) due(now time.Time) []windowExpiry {
	var out []windowExpiry
	for e.Len() > 0 && (*e)[0].at <= now.UnixNano() {
		out = append(out, heap.Pop(e).(windowExpiry))
	}
	return out
}

// disconnectWindows returns the distinct disconnect windows of the groups
// with live allocations on a node, shortest first.
func (l *leader) disconnectWindows(nodeID string) []time.Duration {
	var ws []time.Duration
	for _, a := range l.s.store.AllocsByNode(nodeID) {
		if a.Terminal() || a.Job == nil {
			continue
		}
		tg := a.Job.LookupTaskGroup(a.TaskGroup)
		if tg == nil || tg.Disconnect == nil || tg.Disconnect.LostAfter <= 0 {
			continue
		}
		if !slices.Contains(ws, tg.Disconnect.LostAfter) {
			ws = append(ws, tg.Disconnect.LostAfter)
		}
	}
	slices.Sort(ws)
	return ws
}

// nodeMissed handles a node whose heartbeat TTL passed: disconnected if any
// of its allocations may wait out an outage, else down. Every job with
// allocations there is evaluated.
func (l *leader) nodeMissed(id string, now time.Time, exp *expiries) {
	n := l.s.store.NodeByID(id)
	if n == nil || n.Status != structs.NodeReady {
		return
	}
	status, desc := structs.NodeDown, "missed heartbeats"
	windows := l.disconnectWindows(id)
	if len(windows) > 0 {
		status, desc = structs.NodeDisconnected, "missed heartbeats; allocations wait out the disconnect window"
		for i, w := range windows {
			heap.Push(exp, windowExpiry{at: now.Add(w + time.Second).UnixNano(), node: id, since: now.UnixNano(), last: i == len(windows)-1})
		}
	} else {
		l.nodesDown.Add(1)
	}
	l.s.log.Warn("node missed its heartbeats", "node", id, "name", n.Name, "status", status, "ttl", l.s.cfg.HeartbeatTTL, "grace", l.s.cfg.HeartbeatGrace)
	ops := []state.Op{{NodeStatus: &state.NodeStatus{NodeID: id, Status: status, Description: desc, Now: now.UnixNano()}}}
	if evals := l.evalsForNodeJobs(id, structs.TriggerNodeUpdate, now.UnixNano(), nil); len(evals) > 0 {
		ops = append(ops, state.Op{UpsertEvals: evals})
	}
	l.submit(batchItem{ops: ops})
}

// windowExpired re-evaluates a still-disconnected node's jobs when one of
// its disconnect windows ends, and marks it down after the longest.
func (l *leader) windowExpired(e windowExpiry, now time.Time) {
	n := l.s.store.NodeByID(e.node)
	if n == nil || n.Status != structs.NodeDisconnected || n.StatusUpdatedAt != e.since {
		return // reconnected (or disconnected again later) since
	}
	var ops []state.Op
	if e.last {
		l.nodesDown.Add(1)
		l.s.log.Warn("node stayed disconnected past its allocations' windows: marking it down", "node", n.ID, "name", n.Name)
		ops = append(ops, state.Op{NodeStatus: &state.NodeStatus{NodeID: n.ID, Status: structs.NodeDown, Description: "disconnect window expired", Now: now.UnixNano()}})
	}
	if evals := l.evalsForNodeJobs(n.ID, structs.TriggerNodeUpdate, now.UnixNano(), nil); len(evals) > 0 {
		ops = append(ops, state.Op{UpsertEvals: evals})
	}
	if len(ops) > 0 {
		l.submit(batchItem{ops: ops})
	}
}

// evalsForNodeJobs returns one evaluation per job with a live allocation on
// the node, skipping jobs already in seen (which it updates).
func (l *leader) evalsForNodeJobs(nodeID, trigger string, now int64, seen map[[2]string]bool) []*structs.Evaluation {
	if seen == nil {
		seen = map[[2]string]bool{}
	}
	var evals []*structs.Evaluation
	for _, a := range l.s.store.AllocsByNode(nodeID) {
		key := [2]string{a.Namespace, a.JobID}
		if a.Terminal() || seen[key] {
			continue
		}
		seen[key] = true
		if job := l.s.store.JobByID(a.Namespace, a.JobID); job != nil {
			evals = append(evals, newEval(job.Namespace, job.ID, job.Type, job.Priority, trigger, nodeID, now))
		}
	}
	return evals
}
