package agent

import (
	"errors"
	"sort"
	"time"

	"github.com/tether-edge/tether/agent/session"
	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/protocol"
)

func (a *Agent) handleSession(ev session.Event) {
	switch ev.Kind {
	case session.Connected:
		a.connected = true
		a.downSince = time.Time{}
		a.sentUpTo = 0 // resend everything unacknowledged
		a.publishOnline(true)
		a.connects++
		a.sess.Subscribe(map[string]byte{a.topics.Desired(a.nodeID): 1, a.topics.Ack(a.nodeID): 1, a.topics.Logs(a.nodeID): 1,
			a.topics.Exec(a.nodeID): 1, a.topics.ExecIn(a.nodeID, "+"): 1, a.topics.Stats(a.nodeID): 1})
		a.svcSubs = map[string]bool{}
		a.subscribeServices()
		a.hello()
		a.flush()
		a.upgradeCheck() // upgrade.go
	case session.Lost:
		a.connected = false
		a.downSince = time.Now()
	case session.Message:
		a.handleMessage(ev.Topic, ev.Payload)
	}
}

func (a *Agent) handleMessage(topic string, payload []byte) {
	if a.handleLogsTopic(topic, payload) {
		return
	}
	if a.handleStatsTopic(topic, payload) { // stats.go
		return
	}
	if a.handleExecTopic(topic, payload) { // exec.go
		return
	}
	kind, id, ok := a.topics.Parse(topic)
	if ok && kind == protocol.KindSvc {
		if !a.verifyService(id, payload) { // verify.go
			return
		}
		if err := a.svc.Update(id, payload); errors.Is(err, svccache.ErrStale) {
			a.log.Info("stale service set ignored (older than the one held: a replay?)", "service", id, "err", err)
		} else if err != nil {
			a.log.Warn("malformed service set dropped; templates keep the last good one", "service", id, "err", err, "bytes", len(payload))
		}
		return
	}
	if !ok || id != a.nodeID {
		a.log.Debug("message on unexpected topic dropped", "topic", topic)
		return
	}
	switch kind {
	case protocol.KindDesired:
		var d protocol.Desired
		if err := protocol.Decode(payload, &d); err != nil {
			a.malformed.Add(1)
			a.log.Warn("malformed desired state dropped", "err", err, "bytes", len(payload))
			return
		}
		if !a.verifyDesired(&d) { // verify.go
			return
		}
		if d.NodeID != a.nodeID {
			a.malformed.Add(1)
			a.log.Warn("desired state for another node dropped", "for", d.NodeID)
			return
		}
		if !a.newerDesired(&d) { // verify.go
			a.stale.Add(1)
			a.log.Info("stale desired state ignored", "index", d.Index, "held", a.desiredIndex)
			return
		}
		if err := a.store.PutDesired(&d); err != nil {
			a.log.Error("caching desired state", "err", err)
		}
		a.desiredIndex = d.Index
		a.desiredAccepted()
		a.applied.Add(1)
		a.log.Debug("applying desired state", "index", d.Index, "allocs", len(d.Allocs))
		a.apply(&d)
	case protocol.KindAck:
		var ack protocol.Ack
		if err := protocol.Decode(payload, &ack); err != nil {
			a.malformed.Add(1)
			a.log.Warn("malformed ack dropped", "err", err, "bytes", len(payload))
			return
		}
		n, err := a.store.Ack(ack.Seq)
		if err != nil {
			a.log.Error("applying ack", "seq", ack.Seq, "err", err)
		}
		a.acked.Add(uint64(n))
		if ack.Rehello && a.connected {
			a.log.Info("central asked for a new hello")
			a.sentUpTo = 0
			a.hello()
			a.flush()
		}
	}
}

// subscribeServices subscribes (QoS 1) to svc/<name> for every service
// the templates use that is not yet subscribed on this connection. The
// broker then sends each one's retained set.
func (a *Agent) subscribeServices() {
	if !a.connected {
		return
	}
	filters := map[string]byte{}
	for _, n := range a.svc.Names() {
		if !a.svcSubs[n] {
			a.svcSubs[n] = true
			filters[a.topics.Service(n)] = 1
		}
	}
	if len(filters) > 0 {
		a.log.Debug("subscribing to services", "count", len(filters))
		a.sess.Subscribe(filters)
	}
}

// hello registers the node: fingerprint, resources and every alloc's state.
func (a *Agent) hello() {
	allocs := make([]protocol.AllocUpdate, 0, len(a.allocs))
	var highest uint64 // of the updates held in memory
	for _, e := range a.allocs {
		if e.rec.Client.ClientStatus != "" {
			allocs = append(allocs, e.rec.Client)
			highest = max(highest, e.rec.Client.Seq)
		}
	}
	seq, err := a.store.Seq()
	if err != nil {
		// Central must not take an older seq for the newest: send the
		// highest the agent holds in memory instead.
		a.log.Error("reading the update sequence number from the state file; sending the highest held in memory", "err", err, "seq", highest)
		seq = highest
	}
	sort.Slice(allocs, func(i, j int) bool { return allocs[i].AllocID < allocs[j].AllocID })
	h := &protocol.Hello{
		V:            protocol.Version,
		NodeID:       a.nodeID,
		Name:         a.cfg.Name,
		Datacenter:   a.cfg.Datacenter,
		Attributes:   a.helloAttributes(), // the fingerprint and the data dir's storage (gc.go)
		Meta:         a.cfg.Meta,
		Drivers:      a.fp.Drivers,
		Resources:    a.fp.Resources,
		Boot:         a.boot,
		DesiredIndex: a.desiredIndex,
		Seq:          seq,
		Version:      a.opts.Version,
		Time:         time.Now().UnixMilli(),
		Allocs:       allocs,
	}
	a.upgradeHello(h)              // upgrade.go
	h.Reserved = a.helloReserved() // metrics.go
	a.publish(a.topics.Hello(a.nodeID), 1, false, h)
}
