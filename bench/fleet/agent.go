package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/agent/session"
	"github.com/tether-edge/tether/protocol"
)

// simAgent is one simulated agent: the agent's own MQTT session
// (agent/session: persistent session, QoS 1, last will on online,
// reconnects with the agent's backoff), one connection each, and the
// agent's wire behaviour: online marker, hello with every allocation held,
// heartbeats, desired state decoded and its signature checked against
// central's key, allocations "started" by a fake task runtime that reports
// them running at once, updates acknowledged by central.
//
// Its state is owned by its goroutine (run); other goroutines reach it
// through ctl, or read the atomics.
type simAgent struct {
	f     *fleet
	idx   int
	id    string
	boot  int64
	sess  *session.Session
	ctl   chan func()
	quit  chan struct{}
	ended chan struct{}

	// Owned by run:
	index   uint64               // of the last desired state applied
	seq     uint64               // of the last update sent
	allocs  map[string]*simAlloc // held allocations
	pending map[uint64]time.Time // update seq → when sent, until acknowledged
	waits   map[*tracker]uint64  // phase → seq whose ack completes it for this agent
	helloAt time.Time            // last hello, for the rehello count

	// Read by the heartbeat and measurement goroutines:
	connected  atomic.Bool
	applied    atomic.Bool // a desired state was applied
	up         atomic.Bool // not away (churn)
	running    atomic.Int64
	restarts   atomic.Uint64
	outbox     atomic.Int64
	hbSeq      atomic.Uint64
	reconnects atomic.Uint64
	echo       atomic.Bool   // central takes Heartbeat.Applied
	appliedIdx atomic.Uint64 // index, for the heartbeat
}

type simAlloc struct {
	up    protocol.AllocUpdate
	tasks []string
}

// start opens a new session and runs the agent's goroutine.
func (a *simAgent) start() {
	if a.allocs == nil {
		a.allocs = map[string]*simAlloc{}
		a.pending = map[uint64]time.Time{}
		a.waits = map[*tracker]uint64{}
	}
	a.boot = time.Now().UnixMilli()
	a.ctl = make(chan func(), 16)
	a.quit = make(chan struct{})
	a.ended = make(chan struct{})
	events := make(chan session.Event, 16)
	brokers := make([]string, 0, len(a.f.brokers))
	for i := range a.f.brokers { // spread agents over the brokers, each keeping the others as fallbacks
		brokers = append(brokers, a.f.brokers[(a.idx+i)%len(a.f.brokers)])
	}
	will, _ := protocol.Encode(&protocol.Online{V: protocol.Version, Online: false})
	a.sess = session.New(session.Options{
		Brokers: brokers, ClientID: session.ClientID("", a.id),
		WillTopic: a.f.topics.Online(a.id), WillPayload: will,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, events)
	a.up.Store(true)
	go a.run(events)
	a.sess.Connect()
}

// leave closes the session (the agent goes away) and waits for its
// goroutine to end.
func (a *simAgent) leave() {
	a.up.Store(false)
	close(a.quit)
	<-a.ended
}

func (a *simAgent) run(events chan session.Event) {
	defer close(a.ended)
	for {
		select {
		case <-a.quit:
			a.connected.Store(false)
			a.sess.Close(0)
			return
		case fn := <-a.ctl:
			fn()
		case ev := <-events:
			a.handle(ev)
		}
	}
}

// do runs fn on the agent's goroutine, unless the agent is away.
func (a *simAgent) do(fn func()) {
	if !a.up.Load() {
		return
	}
	select {
	case a.ctl <- fn:
	case <-a.ended:
	}
}

func (a *simAgent) handle(ev session.Event) {
	switch ev.Kind {
	case session.Connected:
		if a.connected.Swap(true) {
			break
		}
		a.f.connects.Add(1)
		a.reconnects.Add(1)
		a.publish(a.f.topics.Online(a.id), 1, true, &protocol.Online{V: protocol.Version, Online: true, Time: time.Now().UnixMilli()})
		a.sess.Subscribe(map[string]byte{a.f.topics.Desired(a.id): 1, a.f.topics.Ack(a.id): 1, a.f.topics.Logs(a.id): 1})
		a.hello()
		if t := a.f.storm.Load(); t != nil {
			a.waits[t] = 1 // the first ack on this connection answers the hello
		}
	case session.Lost:
		a.connected.Store(false)
		a.f.lost.Add(1)
	case session.Message:
		kind, id, ok := a.f.topics.Parse(ev.Topic)
		if !ok || id != a.id {
			return
		}
		switch kind {
		case protocol.KindDesired:
			a.desired(ev.Payload)
		case protocol.KindAck:
			a.ack(ev.Payload)
		}
	}
}

// desired applies a desired state as the agent does: decode (strict),
// check central's signature and the node, ignore an older index, then
// start what should run and stop what should not.
func (a *simAgent) desired(payload []byte) {
	var d protocol.Desired
	if err := protocol.Decode(payload, &d); err != nil {
		a.f.malformed.Add(1)
		return
	}
	if err := protocol.VerifyDesired(&d, a.f.key); err != nil {
		a.f.badSig.Add(1)
		return
	}
	if d.NodeID != a.id || d.Index < a.index {
		a.f.stale.Add(1)
		return
	}
	a.index = d.Index
	a.applied.Store(true)
	a.appliedIdx.Store(d.Index)
	a.echo.Store(d.Echo)
	if t := a.f.storm.Load(); t != nil && a.waits[t] > 0 {
		// Back after the storm and holding central's desired state
		// (re-published once central reconnected to the broker).
		t.done(a.idx, time.Now())
		delete(a.waits, t)
	}
	a.f.desired.Add(1)
	now := time.Now()
	var ups []protocol.AllocUpdate
	want := map[string]bool{}
	for _, da := range d.Allocs {
		want[da.ID] = true
		held := a.allocs[da.ID]
		switch {
		case da.DesiredStatus == protocol.DesiredRun && held == nil:
			sa := &simAlloc{}
			for _, t := range da.Tasks {
				sa.tasks = append(sa.tasks, t.Name)
			}
			sa.up = protocol.AllocUpdate{AllocID: da.ID, ClientStatus: protocol.AllocRunning, JobVersion: da.JobVersion,
				Time: now.UnixMilli(), TaskStates: taskStates(sa.tasks, protocol.TaskRunning, now, 0)}
			if da.Health != nil && da.DeploymentID != "" {
				sa.up.Health = &protocol.AllocHealth{Healthy: true, Time: now.UnixMilli(), DeploymentID: da.DeploymentID}
			}
			a.allocs[da.ID] = sa
			a.running.Add(1)
			a.f.allocStarts.Add(1)
			ups = append(ups, sa.up)
			if t := a.f.phase.Load(); t != nil && t.matches(da) {
				a.waits[t] = 0 // the seq is known once sent, below
			}
		case da.DesiredStatus != protocol.DesiredRun && held != nil && held.up.ClientStatus == protocol.AllocRunning:
			ups = append(ups, a.stopped(held, now))
		}
	}
	for id, held := range a.allocs {
		if !want[id] {
			if held.up.ClientStatus == protocol.AllocRunning {
				ups = append(ups, a.stopped(held, now))
			}
			delete(a.allocs, id) // collected by central: the agent forgets it
		}
	}
	a.report(ups)
}

func (a *simAgent) stopped(sa *simAlloc, now time.Time) protocol.AllocUpdate {
	sa.up.ClientStatus = protocol.AllocComplete
	sa.up.Time = now.UnixMilli()
	sa.up.TaskStates = taskStates(sa.tasks, protocol.TaskDead, now, 0)
	a.running.Add(-1)
	a.f.allocStops.Add(1)
	return sa.up
}

// flap makes one running task of the agent fail and restart at once (a
// restart policy's work): one update with the restart counted.
func (a *simAgent) flap() {
	now := time.Now()
	for _, sa := range a.allocs {
		if sa.up.ClientStatus != protocol.AllocRunning {
			continue
		}
		n := 1
		if ts, ok := sa.up.TaskStates[sa.tasks[0]]; ok {
			n = ts.Restarts + 1
		}
		sa.up.Time = now.UnixMilli()
		sa.up.TaskStates = taskStates(sa.tasks, protocol.TaskRunning, now, n)
		a.restarts.Add(1)
		a.f.flaps.Add(1)
		a.report([]protocol.AllocUpdate{sa.up})
		return
	}
}

func taskStates(tasks []string, state string, now time.Time, restarts int) map[string]protocol.TaskState {
	out := make(map[string]protocol.TaskState, len(tasks))
	for _, t := range tasks {
		ts := protocol.TaskState{State: state, Restarts: restarts, StartedAt: now.UnixMilli()}
		if state == protocol.TaskDead {
			ts.FinishedAt = now.UnixMilli()
		}
		out[t] = ts
	}
	return out
}

// report sends updates in one batch, each with the next sequence number,
// and remembers when, for the report → state latency.
func (a *simAgent) report(ups []protocol.AllocUpdate) {
	if len(ups) == 0 {
		return
	}
	now := time.Now()
	for i := range ups {
		a.seq++
		ups[i].Seq = a.seq
		if sa := a.allocs[ups[i].AllocID]; sa != nil {
			sa.up.Seq = a.seq
		}
	}
	for t, s := range a.waits {
		if s == 0 {
			a.waits[t] = a.seq
		}
	}
	a.pending[a.seq] = now
	a.outbox.Store(int64(len(a.pending)))
	if a.connected.Load() {
		a.publish(a.f.topics.Up(a.id), 1, false, &protocol.Update{V: protocol.Version, Allocs: ups})
	}
}

func (a *simAgent) ack(payload []byte) {
	var ack protocol.Ack
	if err := protocol.Decode(payload, &ack); err != nil {
		a.f.malformed.Add(1)
		return
	}
	now := time.Now()
	if ack.Rehello {
		a.f.rehellos.Add(1)
		a.hello()
		return
	}
	for s, at := range a.pending {
		if s <= ack.Seq {
			a.f.lat.add(now.Sub(at))
			delete(a.pending, s)
		}
	}
	a.outbox.Store(int64(len(a.pending)))
	for t, s := range a.waits {
		if s > 0 && s <= ack.Seq {
			t.done(a.idx, now)
			delete(a.waits, t)
		}
	}
}

// hello registers the node with every allocation it holds, as the agent's
// hello does; a fingerprint shaped like a Raspberry Pi's.
func (a *simAgent) hello() {
	h := &protocol.Hello{V: protocol.Version, NodeID: a.id, Name: a.id, Datacenter: "dc1",
		Attributes: a.f.attrs, Drivers: []string{"exec", "wasm"},
		Resources: protocol.Resources{CPU: 4 * 1500, MemoryMB: 4096, Cores: 4},
		Boot:      a.boot, DesiredIndex: a.index, Seq: a.seq, Version: "fleet-sim", Time: time.Now().UnixMilli()}
	for _, sa := range a.allocs {
		h.Allocs = append(h.Allocs, sa.up)
	}
	a.helloAt = time.Now()
	a.f.hellos.Add(1)
	a.publish(a.f.topics.Hello(a.id), 1, false, h)
}

// beat sends a heartbeat (from the fleet's heartbeat wheel) as the agent's
// heartbeat does: counters, no allocation states.
func (a *simAgent) beat() {
	if !a.connected.Load() {
		return
	}
	hb := &protocol.Heartbeat{V: protocol.Version, Seq: a.hbSeq.Add(1), Time: time.Now().UnixMilli(),
		Running: int(a.running.Load()), Tasks: int(a.running.Load()), Outbox: int(a.outbox.Load()),
		Boot: a.boot, Restarts: a.restarts.Load(), Reconnects: a.reconnects.Load() - min(a.reconnects.Load(), 1)}
	if a.echo.Load() {
		hb.Applied = a.appliedIdx.Load()
	}
	a.f.beats.Add(1)
	a.publish(a.f.topics.Heartbeat(a.id), 0, false, hb)
}

func (a *simAgent) publish(topic string, qos byte, retain bool, msg any) {
	b, err := protocol.Encode(msg)
	if err != nil {
		panic(fmt.Sprintf("BUG: encode %T: %v", msg, err))
	}
	a.sess.Publish(topic, qos, retain, b)
}

// tracker times one phase: how many agents finished it and when the last
// one did.
type tracker struct {
	job     string
	version uint64
	n       atomic.Int64
	last    atomic.Int64 // unix ns
	seen    sync.Map     // agent index → true: each agent counts once
}

func (t *tracker) matches(da protocol.DesiredAlloc) bool {
	return t.job != "" && da.JobID == t.job && da.JobVersion >= t.version
}

func (t *tracker) done(agent int, now time.Time) {
	if _, dup := t.seen.LoadOrStore(agent, true); dup {
		return
	}
	t.n.Add(1)
	for {
		old := t.last.Load()
		if now.UnixNano() <= old || t.last.CompareAndSwap(old, now.UnixNano()) {
			return
		}
	}
}

// latencies collects report → acknowledged durations while on.
type latencies struct {
	mu  sync.Mutex // guards on, all
	on  bool
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if l.on {
		l.all = append(l.all, d)
	}
	l.mu.Unlock()
}

// window turns collection on (clearing what was collected) or off and
// returns what was collected.
func (l *latencies) window(on bool) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.all
	l.all, l.on = nil, on
	return out
}
