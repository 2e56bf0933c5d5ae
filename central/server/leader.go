package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/gateway"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// leader holds the duties of the Raft leader. It lives from gaining
// leadership to losing it; everything it starts stops with its context.
type leader struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	gw     *gateway.Gateway
	wg     sync.WaitGroup

	inbound *inbox // what the gateway read, for the loop (inbox.go)
	batch   chan batchItem
	evals   *evalQueue
	delayed *delayedEvals // evaluations waiting for their WaitUntil (reschedule.go)
	pub     *publisher    // nodes whose desired state to publish
	svcPub  *publisher    // service names whose instance set to publish
	brokers []string      // shared brokers the gateway connected to

	hellos, heartbeats, updates, nodesDown, plans atomic.Uint64
	ops                                           opsStats      // heartbeats per node, scheduler latency (metrics.go)
	entries                                       nodeEntries   // sizes of the loop's node maps (nodemaps.go)
	namesRefused                                  atomic.Uint64 // hellos refused for a name another node holds

	periodic periodicStats // periodic launches (periodic.go)
	capacity capacityCache // jobs a node joining may serve (capacity.go)
	sent     *desiredSent  // desired states published, for nodes that echo (echo.go)
}

// batchItem is a set of ops to commit, and what to do once committed.
type batchItem struct {
	ops   []state.Op
	after func(*state.ApplyResult)
}

func startLeader(s *Server) (*leader, error) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &leader{
		s: s, ctx: ctx, cancel: cancel,
		inbound: newInbox(inboxLimit),
		batch:   make(chan batchItem, 4096),
		evals:   newEvalQueue(),
		delayed: newDelayedEvals(),
		pub:     newPublisher(),
		svcPub:  newPublisher(),
		sent:    newDesiredSent(),
	}
	l.entries.pruned = newPruned()
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	brokers, mirror := s.gatewayBrokers()
	l.brokers = brokers
	mqttUser, mqttPass, err := s.securitySetup() // security.go
	if err != nil {
		cancel()
		return nil, err
	}
	gw, err := gateway.Connect(cctx, gateway.Config{
		Username:     mqttUser,
		Password:     mqttPass,
		ClientID:     centralClientID(mqttUser, mqttPass),
		TLS:          s.tls.client, // nil without a tls block
		SigningKeys:  s.signingKeys,
		Brokers:      brokers,
		Sites:        gatewaySites(s.cfg.Sites),
		MirrorShared: mirror,
		// Once one broker is up, the others get a quarter second: a dead
		// server's embedded broker never answers, and waiting 2 s for it
		// was most of a failover's time with 10,000 simulated agents
		// (docs/scale.md). A broker that connects later gets what was
		// published meanwhile (the client queues it) and its subscriptions.
		ConnectWait: 250 * time.Millisecond,
		Prefix:      s.cfg.TopicPrefix,
		Logger:      s.log,
		// Devices that cannot decode CBOR read the JSON mirror.
		ServiceJSONMirror: s.cfg.ServiceJSONMirror,
		Known:             func(id string) bool { return s.store.NodeByID(id) != nil },
		// Timed from the broker's ack, not from handing it over: a broker
		// still working through a backlog is not losing anything, and a
		// re-send would only lengthen the backlog (echo.go).
		DesiredAcked: func(id string, index uint64) {
			if takesEcho(s.store.NodeByID(id)) {
				l.sent.published(id, index, time.Now())
			}
		},
		// A broker that restarted lost its retained desired states and
		// service sets (the embedded broker, or Mosquitto without
		// persistence): publish them again (bench/fleet's reconnect storm).
		Reconnected: func(int) { l.republishAll() },
		// Never blocks: the message is acknowledged to the broker as soon
		// as it is queued (inbox.go).
		Handle: func(m gateway.Inbound) {
			if !l.inbound.put(m) {
				l.inboxFull(m)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	l.gw = gw

	// Work left over from an earlier leader, and desired state for every
	// node in case a retained message was lost with a broker.
	for _, e := range s.store.PendingEvals() {
		l.enqueue(e) // a delayed one goes back on its timer
	}
	for _, n := range s.store.Nodes() {
		l.pub.mark(n.ID)
	}
	// Every service too: a retained message may have been lost with a
	// broker, or changed while no server led.
	for _, r := range s.store.Services("") {
		l.svcPub.mark(r.ServiceName)
	}
	for _, f := range []func(){l.loop, l.batcher, l.evalWorker, l.publish, l.publishServices, l.watchBrokers, l.gcLoop, l.deploymentWatcher, l.delayLoop, l.rolloutLoop} {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			f()
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.periodicLoop() // periodic.go
	}()
	return l, nil
}

func (l *leader) stop() {
	l.cancel()
	l.gw.Close()
	l.wg.Wait()
}

// afterApply routes what a committed entry produced to the workers.
func (l *leader) afterApply(res *state.ApplyResult) {
	for _, e := range res.EvalsCreated {
		l.enqueue(e)
	}
	l.pub.mark(res.NodesChanged...)
	l.svcPub.mark(res.ServicesChanged...)
}

func (l *leader) stats() map[string]uint64 {
	return map[string]uint64{
		"hellos": l.hellos.Load(), "heartbeats": l.heartbeats.Load(), "updates": l.updates.Load(),
		"nodes_down": l.nodesDown.Load(), "plans": l.plans.Load(), "evals_queued": uint64(l.evals.len()),
		"evals_delayed": uint64(l.delayed.len()),
		"inbox_waiting": uint64(l.inbound.len()), "inbox_peak": l.inbound.peak.Load(), "inbox_dropped": l.inbound.dropped.Load(),
	}
}

func (l *leader) submit(it batchItem) {
	select {
	case l.batch <- it:
	case <-l.ctx.Done():
	}
}

// batcher commits what arrives together as one Raft entry: many agents'
// updates cost one fsync, not one each.
func (l *leader) batcher() {
	const maxItems = 512
	for {
		var items []batchItem
		select {
		case it := <-l.batch:
			items = append(items, it)
		case <-l.ctx.Done():
			return
		}
	drain:
		for len(items) < maxItems {
			select {
			case it := <-l.batch:
				items = append(items, it)
			default:
				break drain
			}
		}
		cmd := &state.Command{}
		for _, it := range items {
			cmd.Ops = append(cmd.Ops, it.ops...)
		}
		res, err := l.s.apply(cmd)
		if err != nil {
			l.s.log.Warn("batch of agent updates partly rejected", "ops", len(cmd.Ops), "err", err)
		}
		if res == nil {
			continue
		}
		for _, it := range items {
			if it.after != nil {
				it.after(res)
			}
		}
	}
}

// evalWorker runs the scheduler for one evaluation at a time, so plans
// never conflict: each sees the state the previous one committed.
func (l *leader) evalWorker() {
	for {
		e, dups := l.evals.pop(l.ctx)
		if e == nil {
			return
		}
		if err := l.process(e, dups); err != nil {
			l.s.log.Error("evaluation failed", "eval", e.ID, "job", e.JobID, "err", err)
		}
	}
}

// publish sends the desired state of every node marked changed.
func (l *leader) publish() {
	for {
		nodes := l.pub.take(l.ctx)
		if nodes == nil {
			return
		}
		snap := l.s.store.Snapshot()
		index := snap.Index("")
		now := time.Now().UnixNano()
		for _, id := range nodes {
			dc, kept, upgrades := "", false, false
			if n := snap.NodeByID(id); n != nil {
				dc, kept = n.Datacenter, n.Attributes[protocol.AttrKeptAllocs] == "1"
				upgrades = n.Attributes[protocol.AttrUpgrade] == "1"
			}
			allocs := snap.AllocsByNode(id)
			d := desired.Build(id, dc, allocs, index, now)
			if kept {
				desired.AddKept(d, allocs) // the agent's GC learns what central collected
			}
			d.Metrics = takesMetrics(snap.NodeByID(id)) // stats.go
			d.Echo = takesEcho(snap.NodeByID(id))       // echo.go
			if upgrades {
				d.Upgrade = l.s.upgradeOrder(snap, id) // ota.go: the node's rollout order, if any
			}
			if err := l.gw.PublishDesiredAt(id, dc, d); err != nil {
				l.s.log.Warn("publish desired state", "node", id, "err", err)
			}
		}
	}
}

// newEval makes a pending evaluation of job.
func newEval(ns, jobID, jobType string, priority int, trigger, nodeID string, now int64) *structs.Evaluation {
	return &structs.Evaluation{
		ID: structs.GenerateID(), Namespace: ns, Priority: priority, Type: jobType,
		TriggeredBy: trigger, JobID: jobID, NodeID: nodeID, Status: structs.EvalPending,
		CreateTime: now, ModifyTime: now,
	}
}
