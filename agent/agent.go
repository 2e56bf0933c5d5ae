package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/tether-edge/tether/agent/artifact"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/agent/allocgc"
	"github.com/tether-edge/tether/agent/allocrunner"
	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/agent/fingerprint"
	"github.com/tether-edge/tether/agent/session"
	"github.com/tether-edge/tether/agent/state"
	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// Limits of one Update message: allocations, and encoded bytes (half the
// protocol's message limit, so central never rejects one).
const (
	MaxBatch      = 256
	MaxBatchBytes = protocol.MaxMessageSize / 2
)

// ErrClosed is returned by Run on an agent that has already run.
var ErrClosed = errors.New("agent: already run or closed")

// Options build an Agent.
type Options struct {
	Config  *config.Config // validated
	Drivers []drivers.Driver
	Logger  *slog.Logger
	Version string // build version, reported as tether.version
	// FingerprintRoot is the root the fingerprint reads /proc, /sys and /etc
	// under ("" = "/"). Addrs overrides the interface addresses (tests).
	FingerprintRoot string
	Addrs           func() ([]net.Addr, error)
	// RetryInterval between attempts of the first MQTT connection (default 2s).
	RetryInterval time.Duration
	// LookupEnv reads the agent's environment for tasks (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// TemplateWait bounds how long a task's first template render waits
	// for the services it uses (0: template.DefaultFirstWait).
	TemplateWait time.Duration
	// Statfs reads the data dir's disk usage for the allocation GC
	// (default: statfs(2); tests inject a full disk).
	Statfs func(path string) (allocgc.Usage, error)
}

// Counters are the agent's exported counters.
type Counters struct {
	Malformed uint64 // Desired/Ack payloads dropped as malformed
	Stale     uint64 // Desired messages ignored as older than the one held
	Applied   uint64 // Desired messages applied
	Acked     uint64 // outbox entries deleted by acks
	// SvcMalformed counts svc/<name> payloads dropped as malformed.
	SvcMalformed uint64
	// SvcStale counts service sets ignored as older than the one held
	// (a lower index: a replay).
	SvcStale uint64
	// BadSignature counts desired states and service sets dropped because
	// they were unsigned or not signed with central's pinned key.
	BadSignature uint64
	// BadKeyChain counts key chains fetched from central that did not
	// verify from the pinned key (verify.go).
	BadKeyChain uint64
	// TooLarge counts messages the agent refused to publish because they
	// exceed the broker's packet limit (agent/session).
	TooLarge uint64
	// GCRemoved and GCBytesFreed count the finished allocations'
	// directories the allocation GC removed and the space they took;
	// GCFailed counts removals that failed (gc.go).
	GCRemoved, GCBytesFreed, GCFailed uint64
	// DiskUsed and DiskAvail are the data dir's filesystem at the GC's
	// last check, in bytes, as df shows them.
	DiskUsed, DiskAvail uint64
	// HeldUpdates is how many allocations' updates are held in memory
	// because the state file could not record them (a full disk);
	// RecordFailures counts the failed attempts (diskfull.go).
	HeldUpdates, RecordFailures uint64
}

// Agent is the edge agent.
type Agent struct {
	cfg  *config.Config
	log  *slog.Logger
	opts Options
	// artifacts downloads tasks' artifacts, cached under data_dir/artifacts.
	artifacts *artifact.Fetcher
	store     *state.Store
	nodeID    string
	fp        fingerprint.Result
	topics    protocol.Topics
	boot      int64
	drivers   map[string]drivers.Driver
	sess      *session.Session
	svc       *svccache.Cache

	events     chan session.Event
	updates    chan allocrunner.Update
	runnerDone chan string

	malformed, stale, applied, acked atomic.Uint64
	badSig                           atomic.Uint64
	// pinned is central's signing key from enrolment, which follows key
	// rotations (verify.go; nil: not enrolled, messages are not verified).
	pinned *keyPin
	logs   logStreams    // task log requests (logs.go)
	stats  statsRequests // allocation stats requests (stats.go)
	exec   execSessions  // alloc exec sessions (exec.go)
	gc     allocGC       // finished allocations' directories (gc.go)
	// metrics measures the device for heartbeats (metrics.go).
	metrics hostMetrics
	unrec   heldUpdates // updates the state file could not take yet (diskfull.go)

	ran       atomic.Bool
	closeOnce sync.Once

	// owned by the Run goroutine
	allocs       map[string]*allocEntry
	desiredIndex uint64
	// echo: the latest desired state carried Echo, so heartbeats report
	// desiredIndex (Heartbeat.Applied) and central re-sends a state they
	// show was missed.
	echo      bool
	connected bool
	sentUpTo  uint64          // highest outbox seq published on this connection
	svcSubs   map[string]bool // svc/<name> subscribed on this connection
	// repinned is poked when a new signing key is pinned: service sets
	// are then subscribed again, their indexes no longer ordering them.
	repinned  chan struct{}
	downSince time.Time // when the broker connection was lost (or the agent started unconnected); zero while connected
	hbSeq     uint64
	connects  uint64 // MQTT connections made, the first included
	runnerCtx context.Context
	runners   sync.WaitGroup
	upg       upgrader // over-the-air upgrades (upgrade.go)
}

// allocEntry is one allocation the agent holds.
type allocEntry struct {
	rec     state.AllocRecord
	runner  *allocrunner.Runner // nil once finished (or never started: terminal at boot)
	removed bool                // no longer desired: forget it when the runner is done
	cutOff  bool                // stopped locally by stop_on_client_after
}

// New opens the state file, loads or creates the node identity and
// fingerprints the node. Run starts the agent.
func New(opts Options) (*Agent, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("agent: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Statfs == nil {
		opts.Statfs = statfs // gc.go
	}
	log := opts.Logger
	st, moved, err := state.Open(cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	nodeID, err := st.NodeIdentity(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	enr, err := loadOrEnrol(context.Background(), cfg) // enroll.go
	if err != nil {
		st.Close()
		return nil, err
	}
	if enr != nil {
		nodeID = enr.NodeID
	}
	if moved != "" {
		log.Warn("started with empty state after moving a corrupt state file aside; waiting for central's desired state", "moved_to", moved)
	}
	a := &Agent{
		cfg:        cfg,
		log:        log.With("node_id", nodeID),
		opts:       opts,
		artifacts:  newFetcher(cfg), // artifacts.go
		store:      st,
		nodeID:     nodeID,
		topics:     protocol.Topics{Prefix: cfg.TopicPrefix},
		boot:       time.Now().UnixMilli(),
		drivers:    map[string]drivers.Driver{},
		events:     make(chan session.Event, 64),
		updates:    make(chan allocrunner.Update),
		runnerDone: make(chan string),
		allocs:     map[string]*allocEntry{},
		svc:        svccache.New(st, log.With("component", "svccache")),
	}
	a.upgradeInit() // upgrade.go
	var user, pass string
	if enr != nil {
		client, err := enrolClient(cfg) // the key chain comes from central like the enrolment (enroll.go)
		if err != nil {
			st.Close()
			return nil, err
		}
		a.pinned = newKeyPin(filepath.Join(cfg.DataDir, EnrolmentFile), cfg.Central, ed25519.PublicKey(enr.SigningPublicKey),
			client, a.log.With("component", "keyring"), a.events)
		a.repinned = make(chan struct{}, 1)
		a.pinned.onRepin = a.servicesRepinned // verify.go
		user, pass = enr.MQTTUsername, enr.MQTTPassword
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.fp = fingerprint.Fingerprinter{Root: opts.FingerprintRoot, Version: opts.Version, Addrs: opts.Addrs, Logger: log}.Run(ctx, opts.Drivers)
	for _, d := range opts.Drivers {
		a.drivers[d.Name()] = d // unhealthy ones too: a task on one fails with its error
	}
	tlsCfg, err := cfg.TLS.ClientConfig() // nil without TLS files
	if err != nil {
		st.Close()
		return nil, err
	}
	will, _ := protocol.Encode(&protocol.Online{V: protocol.Version, Online: false})
	a.sess = session.New(session.Options{
		TLS:           tlsCfg,
		Brokers:       cfg.Brokers,
		ClientID:      session.ClientID(user, nodeID),
		WillTopic:     a.topics.Online(nodeID),
		WillPayload:   will,
		RetryInterval: opts.RetryInterval,
		Username:      user,
		Password:      pass,
		Logger:        a.log.With("component", "mqtt"),
	}, a.events)
	return a, nil
}

// NodeID is the node's persistent id.
func (a *Agent) NodeID() string { return a.nodeID }

// Counters returns a snapshot of the agent's counters. Safe from any goroutine.
func (a *Agent) Counters() Counters {
	return Counters{Malformed: a.malformed.Load(), Stale: a.stale.Load(), Applied: a.applied.Load(), Acked: a.acked.Load(),
		SvcMalformed: a.svc.Malformed(), SvcStale: a.svc.Stale(), BadSignature: a.badSig.Load(), BadKeyChain: a.pinned.badChains(),
		TooLarge:  a.sess.RefusedTooLarge(),
		GCRemoved: a.gc.removed.Load(), GCBytesFreed: a.gc.freed.Load(), GCFailed: a.gc.fails.Load(),
		DiskUsed: a.gc.used.Load(), DiskAvail: a.gc.avail.Load(),
		HeldUpdates: a.unrec.held.Load(), RecordFailures: a.unrec.failures.Load()}
}

// Close releases an Agent that was never Run. Run closes it itself.
func (a *Agent) Close() error {
	var err error
	a.closeOnce.Do(func() { err = a.store.Close() })
	return err
}

// Run runs the agent until ctx is cancelled. Tasks are left running on
// return; a new agent on the same data dir re-attaches to them.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return ErrClosed
	}
	runnerCtx, detach := context.WithCancel(context.Background())
	a.runnerCtx = runnerCtx
	a.log.Info("agent starting", "name", a.cfg.Name, "datacenter", a.cfg.Datacenter, "brokers", a.cfg.Brokers,
		"drivers", a.fp.Drivers, "data_dir", a.cfg.DataDir)
	a.downSince = time.Now()
	a.restore()
	a.gcInit(time.Now()) // gc.go; the first check waits for central's desired state, a runner, or gc_interval
	a.cleanupDrivers()
	a.sess.Connect()
	hb := time.NewTicker(a.cfg.Heartbeat)
	defer hb.Stop()
	gcTick := time.NewTicker(a.gcInterval()) // gc.go
	defer gcTick.Stop()
	for {
		select {
		case <-ctx.Done():
			a.shutdown(detach)
			return nil
		case ev := <-a.events:
			a.handleSession(ev)
		case u := <-a.updates:
			a.handleUpdates(a.drainUpdates(u))
		case id := <-a.runnerDone:
			a.handleRunnerDone(id)
		case <-a.svc.NewNames():
			a.subscribeServices()
		case <-a.repinned:
			a.resubscribeServices() // verify.go
		case <-hb.C:
			a.retryHeld() // diskfull.go
			a.heartbeat()
			a.stopCutOff(time.Now())
		case now := <-gcTick.C:
			a.collect(now)
		case ev := <-a.upg.events:
			if p := a.upgradeEvent(ev); p != nil { // upgrade.go
				a.shutdown(detach)
				return &UpgradeReady{Plan: *p}
			}
		}
	}
}

func (a *Agent) shutdown(detach context.CancelFunc) {
	a.log.Info("agent stopping; tasks keep running and are re-attached on the next start")
	detach()
	a.runners.Wait()
	if a.connected {
		payload, _ := protocol.Encode(&protocol.Online{V: protocol.Version, Online: false, Time: time.Now().UnixMilli()})
		if err := a.sess.PublishWait(a.topics.Online(a.nodeID), 1, true, payload, 2*time.Second); err != nil {
			a.log.Warn("could not mark the node offline; the broker's will does it when the session expires", "err", err)
		}
	}
	a.sess.Close(500 * time.Millisecond)
	if err := a.Close(); err != nil {
		a.log.Error("closing state file", "err", err)
	}
}

// cleanupDrivers lets each driver that can remove what it left behind for
// allocations this agent does not know (see drivers.Cleaner), in the
// background: it may talk to a container engine.
func (a *Agent) cleanupDrivers() {
	known := make(map[string]bool, len(a.allocs))
	for id, e := range a.allocs {
		known[id] = !allocrunner.Terminal(e.rec.Client.ClientStatus)
	}
	for _, d := range a.opts.Drivers {
		c, ok := d.(drivers.Cleaner)
		if !ok || !slices.Contains(a.fp.Drivers, d.Name()) {
			continue // only healthy drivers: an absent engine has nothing to clean
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			removed, err := c.Cleanup(ctx, func(id string) bool { return known[id] })
			if err != nil {
				a.log.Warn("driver cleanup", "driver", d.Name(), "err", err)
			}
			if len(removed) > 0 {
				a.log.Info("removed what belonged to unknown allocations", "driver", d.Name(), "removed", removed)
			}
		}()
	}
}

// restore loads the allocations from the state file, re-attaches their
// runners, then applies the cached Desired.
func (a *Agent) restore() {
	recs, err := a.store.Allocs()
	if err != nil {
		a.log.Error("some allocations in the state file are unreadable and were skipped", "err", err)
	}
	for _, rec := range recs {
		e := &allocEntry{rec: rec}
		a.allocs[rec.Alloc.ID] = e
		if allocrunner.Terminal(rec.Client.ClientStatus) || rec.Alloc.DesiredStatus == protocol.DesiredStop && rec.Client.ClientStatus == "" {
			continue
		}
		handles, err := a.store.Handles(rec.Alloc.ID)
		if err != nil {
			a.log.Warn("reading task handles", "alloc", rec.Alloc.ID, "err", err)
		}
		var prev *protocol.AllocUpdate
		if rec.Client.ClientStatus != "" {
			p := rec.Client
			prev = &p
		}
		a.startRunner(e, prev, handles)
		a.upgradeTrack(rec.Alloc.ID, handles) // upgrade.go
	}
	d, err := a.store.Desired()
	switch {
	case errors.Is(err, state.ErrNotFound):
		a.log.Info("no cached desired state; waiting for central's")
	case err != nil:
		a.log.Error("cached desired state is unreadable; waiting for central's", "err", err)
	default:
		a.log.Info("running from cached desired state until central sends a newer one", "index", d.Index, "allocs", len(d.Allocs))
		a.desiredIndex = d.Index
		a.apply(d)
	}
}

func (a *Agent) node() taskenv.Node {
	return taskenv.Node{ID: a.nodeID, Name: a.cfg.Name, Datacenter: a.cfg.Datacenter, Attributes: a.fp.Attributes, Meta: a.cfg.Meta}
}

func (a *Agent) startRunner(e *allocEntry, prev *protocol.AllocUpdate, handles map[string]drivers.HandleState) {
	alloc := e.rec.Alloc // the runner's own copy
	r := allocrunner.New(allocrunner.Config{
		Alloc:     &alloc,
		Prev:      prev,
		Handles:   handles,
		Drivers:   a.drivers,
		Node:      a.node(),
		AllocsDir: filepath.Join(a.cfg.DataDir, "allocs"),
		Store:     a.store,
		Updates:   a.updates,
		Logger:    a.log,
		LookupEnv: a.opts.LookupEnv,

		Services:     a.svc,
		TemplateWait: a.opts.TemplateWait,
		Artifacts:    a.artifacts,
	})
	e.runner = r
	a.runners.Add(1)
	go func() {
		defer a.runners.Done()
		r.Run(a.runnerCtx)
		select {
		case a.runnerDone <- alloc.ID:
		case <-a.runnerCtx.Done():
		}
	}()
}

// apply makes the allocations match d: start the new ones, stop the ones
// to stop or no longer listed. The same alloc id again changes nothing.
func (a *Agent) apply(d *protocol.Desired) {
	want := make(map[string]bool, len(d.Allocs))
	// Records are saved in one transaction before any runner starts.
	var save []*state.AllocRecord
	var start, stop []*allocEntry
	var act []pendingActions // operator actions, handed over once saved as applied (actions.go)
	for i := range d.Allocs {
		da := d.Allocs[i]
		if err := checkAlloc(&da); err != nil {
			a.malformed.Add(1)
			a.log.Error("allocation rejected", "err", err)
			continue
		}
		want[da.ID] = true
		e := a.allocs[da.ID]
		if e == nil {
			if da.DesiredStatus != protocol.DesiredRun {
				continue
			}
			e = &allocEntry{rec: state.AllocRecord{Alloc: da, ActionSeq: lastAction(&da)}} // actions from before it ran are moot
			a.allocs[da.ID] = e
			save = append(save, &e.rec)
			start = append(start, e)
			continue
		}
		e.removed = false
		if e.runner != nil && allocrunner.DeploymentChanged(&e.rec.Alloc, &da) {
			e.runner.SetDeployment(da.DeploymentID, da.Health) // an in-place update by a new deployment
		}
		e.rec.Alloc = da
		if acts := newActions(&da, e.rec.ActionSeq); len(acts) > 0 {
			e.rec.ActionSeq = lastAction(&da)
			if e.runner != nil && da.DesiredStatus == protocol.DesiredRun {
				act = append(act, pendingActions{e, acts})
			}
		}
		save = append(save, &e.rec)
		if da.DesiredStatus == protocol.DesiredStop && e.runner != nil {
			stop = append(stop, e)
		}
	}
	if err := a.store.PutAllocs(save); err != nil {
		a.log.Error("saving allocations", "allocs", len(save), "err", err)
	}
	for _, p := range act {
		for _, ac := range p.acts {
			a.log.Info("operator action", "alloc", p.e.rec.Alloc.ID, "kind", ac.Kind, "task", ac.Task, "signal", ac.Signal, "seq", ac.Seq)
			p.e.runner.Act(ac)
		}
	}
	for _, e := range start {
		a.log.Info("starting allocation", "alloc", e.rec.Alloc.ID, "job", e.rec.Alloc.JobID, "group", e.rec.Alloc.TaskGroup)
		a.startRunner(e, nil, nil)
	}
	for _, e := range stop {
		a.log.Info("stopping allocation", "alloc", e.rec.Alloc.ID)
		e.runner.Stop()
	}
	for id, e := range a.allocs {
		if want[id] {
			continue
		}
		e.removed = true
		if e.runner != nil {
			a.log.Info("stopping allocation no longer desired", "alloc", id)
			e.runner.Stop()
			continue
		}
		a.forget(id)
	}
	now := time.Now()
	a.noteKept(d, now)
	a.noteMetrics(d) // metrics.go
	a.echo = d.Echo
	a.collect(now) // new allocations count toward gc_max_allocs
	// An upgrade order (upgrade.go).
	a.considerUpgrade(d.Upgrade)
}

// forget drops a finished allocation central no longer lists. Its last
// update stays in the outbox until central acknowledges it; its directory
// stays until the allocation GC removes it (gc.go).
func (a *Agent) forget(id string) {
	if e := a.allocs[id]; e != nil {
		a.gcForget(e)
	}
	delete(a.allocs, id)
	if err := a.store.DeleteAlloc(id); err != nil {
		a.log.Error("deleting allocation from state", "alloc", id, "err", err)
	}
}

func (a *Agent) handleRunnerDone(id string) {
	e := a.allocs[id]
	if e == nil {
		return
	}
	e.runner = nil
	a.upgradeGone(id) // upgrade.go
	if e.removed {
		a.forget(id)
	}
	a.collect(time.Now())
}

// drainUpdates returns first and the runners' updates already waiting
// behind it (at most MaxBatch in all), so that a burst of task state
// changes (a desired state of hundreds of allocations, a reboot) is
// recorded in one transaction and published in one batch.
func (a *Agent) drainUpdates(first allocrunner.Update) []allocrunner.Update {
	us := []allocrunner.Update{first}
	for len(us) < MaxBatch {
		select {
		case u := <-a.updates:
			us = append(us, u)
		default:
			return us
		}
	}
	return us
}

// handleUpdates records the runners' updates and publishes them.
func (a *Agent) handleUpdates(us []allocrunner.Update) {
	cs, es := a.takeHeld() // those a full disk kept from the state file (diskfull.go)
	for _, u := range us {
		e := a.allocs[u.AllocID]
		if e == nil {
			continue
		}
		u.Client.JobVersion = e.rec.Alloc.JobVersion
		cs = append(cs, state.Change{Alloc: &e.rec.Alloc, Update: u.Client})
		es = append(es, e)
	}
	if len(cs) == 0 {
		return
	}
	for i := range cs {
		cs[i].ActionSeq = es[i].rec.ActionSeq // the latest, held changes included (actions.go)
	}
	recs, err := a.store.RecordUpdates(cs)
	if err != nil {
		a.hold(cs, es, err)
		return
	}
	a.recordedHeld()
	for i, rec := range recs {
		e := es[i]
		if rec.ClientStatus != e.rec.Client.ClientStatus {
			a.log.Info("allocation status", "alloc", rec.AllocID, "status", rec.ClientStatus, "seq", rec.Seq)
		}
		e.rec.Client = rec
		a.upgradeSeen(rec) // upgrade.go
	}
	a.flush()
}

// flush publishes the outbox entries not yet sent on this connection, in
// batches of at most MaxBatch allocations and MaxBatchBytes.
func (a *Agent) flush() {
	for a.connected {
		batch, err := a.store.Outbox(a.sentUpTo, MaxBatch)
		if err != nil {
			a.log.Error("reading outbox", "err", err)
			return
		}
		if len(batch) == 0 {
			return
		}
		full := len(batch) == MaxBatch
		payload := a.encode(&protocol.Update{V: protocol.Version, Allocs: batch})
		for len(payload) > MaxBatchBytes && len(batch) > 1 {
			batch = batch[:len(batch)/2]
			full = true
			payload = a.encode(&protocol.Update{V: protocol.Version, Allocs: batch})
		}
		a.sess.Publish(a.topics.Up(a.nodeID), 1, false, payload)
		a.sentUpTo = batch[len(batch)-1].Seq
		if !full {
			return
		}
	}
}

func (a *Agent) encode(msg any) []byte {
	payload, err := protocol.Encode(msg)
	if err != nil {
		panic(fmt.Sprintf("BUG: encoding %T: %v", msg, err))
	}
	return payload
}

func (a *Agent) publish(topic string, qos byte, retained bool, msg any) {
	a.sess.Publish(topic, qos, retained, a.encode(msg))
}

func (a *Agent) publishOnline(online bool) {
	a.publish(a.topics.Online(a.nodeID), 1, true, &protocol.Online{V: protocol.Version, Online: online, Time: time.Now().UnixMilli()})
}

// stopCutOff stops the allocations that ask to be stopped after this long
// without contact (Nomad's stop_on_client_after). It is the only thing
// central's silence stops, and only for allocations that ask for it.
func (a *Agent) stopCutOff(now time.Time) {
	if a.connected || a.downSince.IsZero() {
		return
	}
	down := now.Sub(a.downSince)
	for id, e := range a.allocs {
		limit := time.Duration(e.rec.Alloc.StopAfterMs) * time.Millisecond
		if e.runner == nil || e.cutOff || limit <= 0 || down < limit {
			continue
		}
		a.log.Warn("stopping allocation: no contact with central for longer than its stop_on_client_after", "alloc", id, "after", limit)
		e.cutOff = true
		e.runner.Stop()
	}
}

func (a *Agent) heartbeat() {
	if !a.connected {
		return
	}
	a.hbSeq++
	running, tasks, restarts := 0, 0, uint64(0)
	for _, e := range a.allocs {
		if e.rec.Client.ClientStatus == protocol.AllocRunning {
			running++
		}
		for _, ts := range e.rec.Client.TaskStates {
			if ts.State == protocol.TaskRunning {
				tasks++
			}
			restarts += uint64(max(ts.Restarts, 0))
		}
	}
	hb := &protocol.Heartbeat{
		V: protocol.Version, Seq: a.hbSeq, Time: time.Now().UnixMilli(), Running: running,
		Outbox: a.store.OutboxLen(), Boot: a.boot,
		Tasks: tasks, Restarts: restarts, Reconnects: a.connects - min(a.connects, 1),
		SoCTemp: a.socTemp(),
	}
	if a.gc.centralKept.Load() { // gc.go: central takes the disk fields
		hb.DiskUsed, hb.DiskAvail, hb.GCRemoved = a.gc.used.Load(), a.gc.avail.Load(), a.gc.removed.Load()
	}
	a.addMetrics(hb) // metrics.go: CPU, memory, load, once central takes them
	if a.echo {
		hb.Applied = a.desiredIndex
	}
	a.publish(a.topics.Heartbeat(a.nodeID), 0, false, hb)
}
