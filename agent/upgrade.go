package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tether-edge/tether/agent/upgrade"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// Over-the-air upgrades of the agent (docs/upgrades.md, package
// agent/upgrade). A desired state's Upgrade names a release for this
// agent's target: the agent downloads and verifies it in the background
// (fetch retried with a growing pause; a refusal is final for that order)
// and, once it is verified, stops like on SIGTERM (tasks keep running)
// and returns *UpgradeReady from Run: the command then installs the
// binary and execs it (upgrade.Switch). The new agent is on trial until
// it has connected to a broker and re-attached every allocation it held
// when it started; it then marks the upgrade healthy in the state file
// and the watchdog leaves.

// UpgradeReady is returned by Run when the agent stopped to run a new,
// verified binary: the caller runs upgrade.Switch(Plan, ...).
type UpgradeReady struct{ Plan upgrade.Plan }

func (u *UpgradeReady) Error() string {
	return fmt.Sprintf("agent stopped to upgrade to %s", u.Plan.Order.Version)
}

// Pauses between download attempts.
const (
	upgradeRetryFirst = 5 * time.Second
	upgradeRetryMax   = 5 * time.Minute
)

// upgrader is the agent's upgrade state; owned by the Run goroutine
// except events, written by the fetch goroutine.
type upgrader struct {
	dir     string         // data_dir/upgrade
	state   *upgrade.State // the state file at start and as changed since; nil: no upgrade ever ordered
	trial   bool           // this agent is the new version on trial
	healthy bool           // the trial ended healthy
	// pending lists the allocations restored at start whose tasks have not
	// reported since (re-attached or found gone), with those tasks.
	pending    map[string]map[string]bool
	toldAttach bool // the last hello said Reattached
	events     chan upgradeEvent
	cancel     context.CancelFunc // stops the running fetch
	fetching   string             // the order being fetched (orderKey)
}

type upgradeEvent struct {
	key   string
	order *protocol.AgentUpgrade
	plan  *upgrade.Plan
	err   error // refused for good
}

func orderKey(u *protocol.AgentUpgrade) string {
	return fmt.Sprintf("%s/%s/%x/%s", u.Version, u.Target, u.SHA256, u.RolloutID)
}

// upgradeInit reads the upgrade state file (New).
func (a *Agent) upgradeInit() {
	u := &a.upg
	u.dir = filepath.Join(a.cfg.DataDir, "upgrade")
	u.pending = map[string]map[string]bool{}
	u.events = make(chan upgradeEvent, 1)
	s, err := upgrade.LoadState(upgrade.StatePath(u.dir))
	if err != nil {
		a.log.Error("agent upgrade state unreadable; starting without it", "err", err)
		return
	}
	u.state = s
	if s == nil {
		return
	}
	switch {
	case s.Phase == upgrade.PhaseTrying && s.Version == a.opts.Version:
		u.trial = true
		a.log.Info("agent upgrade on trial: healthy once connected and every allocation is re-attached", "version", s.Version,
			"from", s.From, "deadline", time.UnixMilli(s.Deadline).Format(time.RFC3339))
	case s.Phase == upgrade.PhaseRolledBack && s.Restarted == 0:
		s.Restarted = os.Getpid()
		a.saveUpgradeState()
		a.log.Warn("agent upgrade was rolled back", "version", s.Version, "reason", s.Failure.Reason)
	}
}

func (a *Agent) saveUpgradeState() {
	if err := upgrade.SaveState(upgrade.StatePath(a.upg.dir), a.upg.state); err != nil {
		a.log.Error("writing the agent upgrade state", "err", err)
	}
}

// upgradeTrack notes an allocation restored at start with tasks to
// re-attach (restore).
func (a *Agent) upgradeTrack(id string, handles map[string]drivers.HandleState) {
	if len(handles) == 0 {
		return
	}
	tasks := map[string]bool{}
	for name := range handles {
		tasks[name] = true
	}
	a.upg.pending[id] = tasks
}

// upgradeSeen takes an allocation's update: a task that reported an event
// since the agent started has been re-attached (or found gone).
func (a *Agent) upgradeSeen(u protocol.AllocUpdate) {
	tasks := a.upg.pending[u.AllocID]
	if tasks == nil {
		return
	}
	for name := range tasks {
		ts, ok := u.TaskStates[name]
		if ok && len(ts.Events) > 0 && ts.Events[len(ts.Events)-1].Time >= a.boot {
			delete(tasks, name)
		}
	}
	if len(tasks) == 0 || allocTerminal(u.ClientStatus) {
		delete(a.upg.pending, u.AllocID)
	}
	a.upgradeCheck()
}

func allocTerminal(s string) bool {
	return s == protocol.AllocComplete || s == protocol.AllocFailed || s == protocol.AllocLost
}

// upgradeGone forgets a finished allocation's re-attachment.
func (a *Agent) upgradeGone(id string) {
	if a.upg.pending[id] != nil {
		delete(a.upg.pending, id)
		a.upgradeCheck()
	}
}

// reattached says every allocation held at start has been re-attached.
func (a *Agent) reattached() bool { return len(a.upg.pending) == 0 }

// upgradeCheck ends a trial once the agent is connected and re-attached,
// and says hello again when central has not heard it re-attached yet.
func (a *Agent) upgradeCheck() {
	u := &a.upg
	if !a.connected || !a.reattached() {
		return
	}
	if u.trial && !u.healthy {
		u.healthy = true
		if time.Now().UnixMilli() >= u.state.Deadline {
			a.log.Warn("agent upgrade: healthy after the health window; the watchdog restores the previous binary", "version", u.state.Version)
		} else {
			u.state.Phase = upgrade.PhaseHealthy
			u.state.Failure = nil
			a.saveUpgradeState()
			a.log.Info("agent upgrade healthy", "version", u.state.Version, "from", u.state.From)
		}
	}
	if u.state != nil && !u.toldAttach {
		a.hello()
	}
}

// upgradeAttr advertises upgrades (protocol.AttrUpgrade) when the agent
// can verify a release (it has central's pinned key) and knows its target.
func (a *Agent) upgradeAttr(attrs map[string]string) {
	if a.pinned != nil && upgrade.Target() != "" {
		attrs[protocol.AttrUpgrade] = "1"
	}
}

// upgradeHello fills the hello's upgrade fields, sent only once central
// ordered an upgrade (it understands them).
func (a *Agent) upgradeHello(h *protocol.Hello) {
	u := &a.upg
	if u.state == nil {
		return
	}
	h.UpgradeFailed = u.state.Failure
	h.Reattached = a.reattached()
	u.toldAttach = h.Reattached
}

// considerUpgrade acts on a desired state's upgrade order (apply).
func (a *Agent) considerUpgrade(order *protocol.AgentUpgrade) {
	u := &a.upg
	if order == nil || order.Version == a.opts.Version {
		a.stopFetch()
		return
	}
	key := orderKey(order)
	if key == u.fetching {
		return
	}
	a.stopFetch()
	if s := u.state; s != nil && s.Failure != nil && s.Failure.Version == order.Version && s.Failure.RolloutID == order.RolloutID {
		return // failed once for this rollout: reported, not tried again
	}
	if err := a.checkOrder(order); err != nil {
		a.upgradeRefused(order, err)
		return
	}
	pub := a.pinned.key()
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.fetching = cancel, key
	f := &upgrade.Fetcher{Client: a.pinned.client, Dir: u.dir, Log: a.log.With("component", "upgrade")}
	a.log.Info("agent upgrade ordered: downloading", "version", order.Version, "from", a.opts.Version, "rollout", order.RolloutID, "bytes", order.Size)
	go a.fetchUpgrade(ctx, f, key, order, pub)
}

// checkOrder refuses an order this agent cannot or must not install.
func (a *Agent) checkOrder(order *protocol.AgentUpgrade) error {
	if err := order.Validate(); err != nil {
		return fmt.Errorf("%w: %v", upgrade.ErrRefused, err)
	}
	if a.pinned.key() == nil {
		return fmt.Errorf("%w: this agent has no pinned central key to verify a release with (enrol it with a join token)", upgrade.ErrRefused)
	}
	if err := upgrade.CheckTarget(order); err != nil {
		return err
	}
	return upgrade.CheckVersion(a.opts.Version, order.Version, order.AllowDowngrade)
}

func (a *Agent) fetchUpgrade(ctx context.Context, f *upgrade.Fetcher, key string, order *protocol.AgentUpgrade, pub []byte) {
	pause := upgradeRetryFirst
	for {
		res, err := f.Fetch(ctx, order, pub)
		if ctx.Err() != nil {
			return
		}
		ev := upgradeEvent{key: key, order: order}
		switch {
		case err == nil:
			a.log.Info("agent upgrade downloaded and verified", "version", order.Version, "bytes_downloaded", res.Bytes)
			ev.plan = &upgrade.Plan{Binary: res.Path, Order: *order, From: a.opts.Version, StatePath: upgrade.StatePath(a.upg.dir)}
		case errors.Is(err, upgrade.ErrRefused):
			ev.err = err
		default:
			a.log.Warn("agent upgrade download failed; retrying", "version", order.Version, "err", err, "bytes_downloaded", res.Bytes, "in", pause)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, upgradeRetryMax)
			continue
		}
		select {
		case a.upg.events <- ev:
		case <-ctx.Done():
		}
		return
	}
}

func (a *Agent) stopFetch() {
	if a.upg.cancel != nil {
		a.upg.cancel()
	}
	a.upg.cancel, a.upg.fetching = nil, ""
}

// upgradeEvent takes the fetch's result; it returns the plan to switch
// to, or nil.
func (a *Agent) upgradeEvent(ev upgradeEvent) *upgrade.Plan {
	if ev.key != a.upg.fetching {
		return nil // an order since replaced
	}
	a.upg.cancel, a.upg.fetching = nil, ""
	if ev.err != nil {
		a.upgradeRefused(ev.order, ev.err)
		return nil
	}
	return ev.plan
}

// upgradeRefused records and reports an order refused for good.
func (a *Agent) upgradeRefused(order *protocol.AgentUpgrade, err error) {
	a.log.Error("agent upgrade refused; keeping this version", "version", order.Version, "running", a.opts.Version, "err", err)
	upgrade.Refused(upgrade.StatePath(a.upg.dir), a.opts.Version, order, err, a.log)
	s, lerr := upgrade.LoadState(upgrade.StatePath(a.upg.dir))
	if lerr == nil && s != nil {
		a.upg.state = s
	}
	if a.connected {
		a.hello()
	}
}
