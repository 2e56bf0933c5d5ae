package server

import (
	"time"

	"github.com/tether-edge/tether/central/gateway"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// loop is the leader's single owner of node liveness: it takes every
// inbound agent message in order and turns what matters into ops.
func (l *leader) loop() {
	live := newLiveness(l.s.cfg.HeartbeatTTL + l.s.cfg.HeartbeatGrace)
	exp := &expiries{}
	rehello := map[string]time.Time{} // when we last asked an unknown node to register
	// An update the previous leader took from the broker but never
	// committed is lost: the agent only resends on reconnect. A node whose
	// heartbeats report unacknowledged updates is asked for a new hello
	// (which resends its outbox): at once the first time this leader hears
	// it, and later when the outbox stays non-empty for outboxStuck.
	ob := newOutboxWatch()
	now := time.Now()
	lastPrune := now
	// Every node that was ready under the previous leader gets a full TTL
	// to show it is still alive.
	for _, n := range l.s.store.Nodes() {
		if n.Status == structs.NodeReady {
			live.touch(n.ID, now)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.inbound.ready:
			for _, m := range l.inbound.take(256) { // a bounded batch, so the ticker below still runs in a storm
				l.inboundMsg(m, live, rehello, ob)
			}
		case now := <-tick.C:
			for _, id := range live.expired(now) {
				l.nodeMissed(id, now, exp)
			}
			for _, e := range exp.due(now) {
				l.windowExpired(e, now)
			}
			if now.Sub(lastPrune) >= l.s.cfg.HeartbeatTTL {
				l.pruneNodeMaps(now, live, rehello, ob)
				lastPrune = now
			}
			l.entries.record(live, rehello, ob)
		}
	}
}

// inboundMsg handles one agent message and watches the node's outbox.
func (l *leader) inboundMsg(m gateway.Inbound, live *liveness, rehello map[string]time.Time, ob *outboxWatch) {
	l.handle(m, live, rehello)
	if !live.tracked(m.NodeID) && l.s.store.NodeByID(m.NodeID) == nil {
		return // a node we do not know leaves nothing behind
	}
	if m.Kind == protocol.KindUp && m.Update != nil && l.firstUpdateGap(ob, m) {
		l.askRehello(m.NodeID)
	}
	if m.Kind == protocol.KindUp || m.Kind == protocol.KindHello {
		ob.sawUpdate(m.NodeID, time.Now())
	}
	if m.Kind == protocol.KindHB && m.Heartbeat != nil && ob.check(m.NodeID, m.Heartbeat.Outbox, time.Now(), l.s.cfg.HeartbeatTTL) {
		l.askRehello(m.NodeID)
	}
}

func (l *leader) handle(m gateway.Inbound, live *liveness, rehello map[string]time.Time) {
	now := time.Now()
	switch m.Kind {
	case protocol.KindHello:
		l.hellos.Add(1)
		if !l.nameFree(m.Hello) {
			return
		}
		live.touch(m.NodeID, now)
		delete(rehello, m.NodeID)
		l.nodeHello(m.Hello, now)
	case protocol.KindHB:
		l.heartbeats.Add(1)
		if l.sent.missed(m.NodeID, m.Heartbeat.Applied, now, l.s.cfg.HeartbeatTTL) {
			l.pub.mark(m.NodeID) // echo.go: it never got the last desired state
		}
		if live.tracked(m.NodeID) {
			l.ops.heartbeat(m.NodeID, m.Heartbeat, now)
			live.touch(m.NodeID, now)
			return
		}
		n := l.s.store.NodeByID(m.NodeID)
		if n == nil {
			// A node we do not know keeps beating: ask it to register,
			// at most once per TTL, and for at most maxRehello nodes per
			// TTL (made-up node IDs cannot grow the map without bound).
			if now.Sub(rehello[m.NodeID]) > l.s.cfg.HeartbeatTTL && roomToRehello(rehello, now, l.s.cfg.HeartbeatTTL) {
				rehello[m.NodeID] = now
				l.askRehello(m.NodeID)
			}
			return
		}
		l.ops.heartbeat(m.NodeID, m.Heartbeat, now)
		live.touch(m.NodeID, now)
		if n.Status != structs.NodeReady && now.Sub(rehello[m.NodeID]) > l.s.cfg.HeartbeatTTL {
			// Heartbeats from a node we had given up on: its link to us
			// is back but it never lost its broker. Ask for a hello with
			// the state of every allocation, and reconcile from that.
			rehello[m.NodeID] = now
			l.askRehello(m.NodeID)
		}
	case protocol.KindUp:
		l.updates.Add(1)
		if live.tracked(m.NodeID) {
			live.touch(m.NodeID, now)
		}
		l.clientUpdate(m.NodeID, m.Update.Allocs, now)
	}
}

func (l *leader) askRehello(nodeID string) {
	if err := l.gw.PublishAckMsg(nodeID, &protocol.Ack{V: protocol.Version, Rehello: true}); err != nil {
		l.s.log.Warn("ask node to register again", "node", nodeID, "err", err)
	}
}

// nodeHello registers or re-registers a node, with the allocations it
// reports, and evaluates the jobs that may now place onto it.
func (l *leader) nodeHello(h *protocol.Hello, now time.Time) {
	prev := l.s.store.NodeByID(h.NodeID)
	n := nodeFromHello(h, now.UnixNano())
	if prev != nil {
		n.Eligible, n.Drain = prev.Eligible, prev.Drain
	}
	ops := []state.Op{{UpsertNode: n}}
	if prev == nil || prev.Status != structs.NodeReady {
		// Back from an outage (or new): reconcile the jobs it runs with
		// what it reports below, and place what waited for capacity.
		seen := map[[2]string]bool{}
		evals := l.evalsForNodeJobs(n.ID, structs.TriggerReconnect, now.UnixNano(), seen)
		for _, e := range l.evalsForNewCapacity(now.UnixNano(), n.ID) {
			if key := [2]string{e.Namespace, e.JobID}; !seen[key] {
				seen[key] = true
				evals = append(evals, e)
			}
		}
		if len(evals) > 0 {
			ops = append(ops, state.Op{UpsertEvals: evals})
		}
	}
	var seq uint64
	if len(h.Allocs) > 0 {
		op, s := clientUpdateOp(h.NodeID, h.Allocs, now.UnixNano())
		ops, seq = append(ops, state.Op{ClientUpdate: op}), s
		ops = l.withFailureEvals(ops, op) // reschedule.go
		ops = l.withHealthEvals(ops, op)  // deployhealth.go
	}
	l.submit(batchItem{ops: ops, after: func(*state.ApplyResult) {
		if seq > 0 {
			l.ack(h.NodeID, seq)
		}
		l.pub.mark(h.NodeID) // the agent may have missed its desired state
	}})
}

// jobShort reports whether a job has fewer live allocations than it asks for.
func (l *leader) jobShort(job *jobspec.Job) bool {
	if jobspec.RunsToCompletion(job.Type) {
		// Finished batch allocations are not replaced; a failed one may
		// be waiting for a node to be rescheduled to (reschedule.go), and
		// one never placed for a node to be placed on (waiting.go).
		return l.rescheduleWaiting(job) || l.placementWaiting(job)
	}
	live := map[string]int{}
	for _, a := range l.s.store.AllocsByJob(job.Namespace, job.ID) {
		if !a.Terminal() && a.DesiredStatus == protocol.DesiredRun {
			live[a.TaskGroup]++
		}
	}
	for _, tg := range job.TaskGroups {
		if live[tg.Name] < tg.Count {
			return true
		}
	}
	return false
}

func (l *leader) clientUpdate(nodeID string, allocs []protocol.AllocUpdate, now time.Time) {
	if len(allocs) == 0 {
		return
	}
	op, seq := clientUpdateOp(nodeID, allocs, now.UnixNano())
	ops := l.withHealthEvals([]state.Op{{ClientUpdate: op}}, op) // deployhealth.go
	ops = l.withFailureEvals(ops, op)                            // reschedule.go
	l.submit(batchItem{ops: ops, after: func(*state.ApplyResult) {
		l.ack(nodeID, seq)
	}})
}

// ack tells a node its updates up to seq are applied. A lost ack loses
// nothing: the agent keeps those updates in its outbox and the next
// (cumulative) ack, or its next hello, covers them; but the failure is
// logged, as a broker refusing central's publishes needs an operator.
func (l *leader) ack(nodeID string, seq uint64) {
	if err := l.gw.PublishAck(nodeID, seq); err != nil {
		l.s.log.Warn("acknowledging a node's updates; it keeps them until the next ack", "node", nodeID, "seq", seq, "err", err)
	}
}

func clientUpdateOp(nodeID string, allocs []protocol.AllocUpdate, now int64) (*state.ClientUpdate, uint64) {
	op := &state.ClientUpdate{NodeID: nodeID, Now: now}
	for _, u := range allocs {
		op.Seq = max(op.Seq, u.Seq)
		op.Allocs = append(op.Allocs, state.AllocClientUpdate{
			ID:                u.AllocID,
			ClientStatus:      u.ClientStatus,
			ClientDescription: u.Description,
			TaskStates:        taskStates(u.TaskStates),
			ModifyTime:        u.Time * 1e6,
			Seq:               u.Seq,
			Services:          serviceRegs(u.Services),
			Health:            healthReport(u.Health), // deployhealth.go
		})
	}
	return op, op.Seq
}

// serviceRegs converts an agent's service instances; the store fills in
// and checks the identity fields (ID, node, job, alloc, datacenter).
func serviceRegs(in []protocol.ServiceReg) []*structs.ServiceRegistration {
	if len(in) == 0 {
		return nil
	}
	out := make([]*structs.ServiceRegistration, 0, len(in))
	for _, r := range in {
		out = append(out, &structs.ServiceRegistration{
			ServiceName: r.Name, Task: r.Task, PortLabel: r.PortLabel, Address: r.Address, Port: r.Port,
			Tags: r.Tags, Healthy: r.Healthy, Output: r.Output,
		})
	}
	return out
}

func taskStates(in map[string]protocol.TaskState) map[string]*structs.TaskState {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]*structs.TaskState, len(in))
	for name, ts := range in {
		st := &structs.TaskState{
			State: ts.State, Failed: ts.Failed, Restarts: ts.Restarts,
			StartedAt: ts.StartedAt * 1e6, FinishedAt: ts.FinishedAt * 1e6,
			Events: make([]structs.TaskEvent, 0, len(ts.Events)),
		}
		for _, e := range ts.Events {
			st.Events = append(st.Events, structs.TaskEvent{Type: e.Type, Time: e.Time * 1e6, Message: e.Message, ExitCode: e.ExitCode, Signal: e.Signal})
		}
		out[name] = st
	}
	return out
}

func nodeFromHello(h *protocol.Hello, now int64) *structs.Node {
	name := h.Name
	if name == "" {
		name = h.NodeID
	}
	dc := h.Datacenter
	if dc == "" {
		dc = "dc1"
	}
	return &structs.Node{
		ID: h.NodeID, Name: name, Datacenter: dc, Status: structs.NodeReady,
		Drivers: h.Drivers, Attributes: h.Attributes, Meta: h.Meta,
		Resources: structs.Resources{CPU: h.Resources.CPU, MemoryMB: h.Resources.MemoryMB, Cores: h.Resources.Cores},
		Eligible:  true, Version: h.Version, Boot: h.Boot, StatusUpdatedAt: now, LastSeq: h.Seq,
		UpgradeFailed: upgradeFailure(h.UpgradeFailed), Reattached: h.Reattached, // ota.go
		Reserved: reservedFromHello(h.Reserved), // stats.go
	}
}

// outboxStuck is how long a node's outbox may stay non-empty before the
// leader asks it to send everything again.
const outboxStuck = 3 * time.Second

// outboxWatch decides when to ask a node to resend its outbox. It is
// owned by the leader loop.
type outboxWatch struct {
	since   map[string]time.Time // node → first heartbeat with a non-empty outbox
	asked   map[string]time.Time // node → last time we asked
	heard   map[string]bool      // nodes heard since this leader started
	updated map[string]time.Time // node → last update or hello received
	heardUp map[string]bool      // nodes whose first update was checked for a gap
}

func newOutboxWatch() *outboxWatch {
	return &outboxWatch{since: map[string]time.Time{}, asked: map[string]time.Time{},
		heard: map[string]bool{}, updated: map[string]time.Time{}, heardUp: map[string]bool{}}
}

// firstUpdateGap reports whether the first update this leader gets from a
// node skips sequence numbers past the node's last applied one: updates the
// previous leader took from the broker and died with. The agent's outbox
// would drop them at our next (cumulative) ack, so the node is asked for a
// hello, which carries the state of every allocation.
func (l *leader) firstUpdateGap(o *outboxWatch, m gateway.Inbound) bool {
	if o.heardUp[m.NodeID] || len(m.Update.Allocs) == 0 {
		return false
	}
	o.heardUp[m.NodeID] = true
	if _, helloed := o.updated[m.NodeID]; helloed {
		return false // a hello came first: it carried everything
	}
	n := l.s.store.NodeByID(m.NodeID)
	if n == nil {
		return false
	}
	low := m.Update.Allocs[0].Seq
	for _, u := range m.Update.Allocs {
		low = min(low, u.Seq)
	}
	return low > n.LastSeq+1
}

// sawUpdate records that an update or hello from node arrived: its outbox
// is moving.
func (o *outboxWatch) sawUpdate(node string, now time.Time) { o.updated[node] = now }

// check records a heartbeat's outbox count and reports whether to ask the
// node for a new hello: on the first heartbeat this leader hears with a
// non-empty outbox (unless updates from it arrived already), or once the
// outbox has stayed non-empty for outboxStuck with no update arriving
// meanwhile (at most once per ttl). A busy node whose updates keep
// flowing is never asked: a hello resends everything.
func (o *outboxWatch) check(node string, outbox int, now time.Time, ttl time.Duration) bool {
	first := !o.heard[node]
	o.heard[node] = true
	if outbox == 0 {
		delete(o.since, node)
		return false
	}
	since, ok := o.since[node]
	if !ok {
		o.since[node] = now
		since = now
	}
	last, moving := o.updated[node]
	if first && moving {
		first = false
	}
	if moving && now.Sub(last) < outboxStuck {
		return false
	}
	if first || (now.Sub(since) >= outboxStuck && now.Sub(o.asked[node]) >= ttl) {
		o.asked[node] = now
		o.since[node] = now
		return true
	}
	return false
}
