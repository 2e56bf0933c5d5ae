package server

import (
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// The leader keeps a few maps keyed by node ID: heartbeat deadlines
// (liveness), the last heartbeat per node (opsStats.agents, for metrics),
// when an unknown node was last asked to register (rehello), the outbox
// watch, and the gateway's broker per node. Node IDs arrive from the
// network, and without -mqtt-auth anyone can make them up, so:
//   - a message from a node the state store does not hold adds nothing to
//     them, except a rehello entry, of which there are at most maxRehello
//     younger than one heartbeat TTL;
//   - every heartbeat TTL, entries of nodes the store no longer holds
//     (revoked, collected, never registered) are dropped, and rehello
//     entries older than one TTL.
// Their sizes are the metric tether_leader_node_entries{map=...}.

// maxRehello bounds the unknown nodes asked to register per heartbeat TTL.
const maxRehello = 1024

// roomToRehello reports whether one more unknown node may be asked to
// register now, dropping entries older than ttl if the map is full.
func roomToRehello(rehello map[string]time.Time, now time.Time, ttl time.Duration) bool {
	if len(rehello) < maxRehello {
		return true
	}
	for id, at := range rehello {
		if now.Sub(at) > ttl {
			delete(rehello, id)
		}
	}
	return len(rehello) < maxRehello
}

// pruneNodeMaps drops what the leader holds about nodes the store does not
// hold, and rehello entries older than one TTL. It runs in the leader loop.
func (l *leader) pruneNodeMaps(now time.Time, live *liveness, rehello map[string]time.Time, ob *outboxWatch) {
	ttl := l.s.cfg.HeartbeatTTL
	for id, at := range rehello {
		if now.Sub(at) > ttl {
			delete(rehello, id)
		}
	}
	known := func(id string) bool { return l.s.store.NodeByID(id) != nil }
	var dropped uint64
	for id := range live.bucketOf {
		if !known(id) {
			live.forget(id)
			dropped++
		}
	}
	l.entries.pruned["liveness"].Add(dropped)
	l.entries.pruned["outbox"].Add(uint64(ob.prune(known)))
	l.entries.pruned["heartbeats"].Add(uint64(l.ops.prune(known)))
	l.entries.pruned["stats_history"].Add(uint64(l.ops.hist.Prune(known)))
	l.entries.pruned["gateway_sites"].Add(uint64(l.gw.ForgetNodes(known)))
	l.entries.pruned["desired_sent"].Add(uint64(l.sent.prune(known)))
}

// prune drops the nodes for which keep is false and returns how many.
func (o *outboxWatch) prune(keep func(string) bool) int {
	dropped := map[string]bool{}
	for _, m := range []map[string]time.Time{o.since, o.asked, o.updated} {
		for id := range m {
			if !keep(id) {
				delete(m, id)
				dropped[id] = true
			}
		}
	}
	for _, m := range []map[string]bool{o.heard, o.heardUp} {
		for id := range m {
			if !keep(id) {
				delete(m, id)
				dropped[id] = true
			}
		}
	}
	return len(dropped)
}

// len is the number of nodes the watch holds anything about.
func (o *outboxWatch) len() int {
	return max(len(o.since), len(o.asked), len(o.heard), len(o.updated), len(o.heardUp))
}

// prune drops the heartbeats of nodes for which keep is false and
// returns how many.
func (o *opsStats) prune(keep func(string) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for id := range o.agents {
		if !keep(id) {
			delete(o.agents, id)
			n++
		}
	}
	return n
}

func (o *opsStats) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.agents)
}

// nodeEntries are the sizes of the leader loop's node maps, recorded by
// the loop every second for metrics, and the entries each map lost to
// pruneNodeMaps (the keys are fixed at start: the map itself is not
// written after).
type nodeEntries struct {
	liveness, rehello, outbox atomic.Int64
	pruned                    map[string]*atomic.Uint64
}

func newPruned() map[string]*atomic.Uint64 {
	m := map[string]*atomic.Uint64{}
	for _, k := range []string{"liveness", "outbox", "heartbeats", "gateway_sites", "stats_history", "desired_sent"} {
		m[k] = new(atomic.Uint64)
	}
	return m
}

func (e *nodeEntries) record(live *liveness, rehello map[string]time.Time, ob *outboxWatch) {
	e.liveness.Store(int64(live.len()))
	e.rehello.Store(int64(len(rehello)))
	e.outbox.Store(int64(ob.len()))
}

// entrySizes returns every node map's size, by the name metrics give it.
func (l *leader) entrySizes() map[string]int {
	return map[string]int{
		"liveness":      int(l.entries.liveness.Load()),
		"rehello":       int(l.entries.rehello.Load()),
		"outbox":        int(l.entries.outbox.Load()),
		"heartbeats":    l.ops.len(),
		"gateway_sites": l.gw.NodeSites(),
		"stats_history": l.ops.hist.Len(),
		"desired_sent":  l.sent.len(),
	}
}

// nameFree reports whether the node of hello h may register under its
// name: no other node that is not down holds it (the state store refuses
// it too, state.ErrNameTaken; this check logs why and counts it). A
// refused agent is not registered: it gets no allocations, and is asked
// again to register once per heartbeat TTL while it keeps beating.
func (l *leader) nameFree(h *protocol.Hello) bool {
	name := nodeFromHello(h, 0).Name
	holder := l.s.store.NodeNameHolder(name, h.NodeID)
	if holder == nil {
		return true
	}
	if n := l.namesRefused.Add(1); n <= 10 || n%1000 == 0 {
		l.s.log.Warn("refused node registration: its name is held by another node; start the agent with another -name",
			"node", h.NodeID, "name", name, "held_by", holder.ID, "holder_status", holder.Status, "refused_total", n)
	}
	return false
}
