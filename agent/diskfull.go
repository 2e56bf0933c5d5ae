package agent

import (
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/agent/state"
	"github.com/tether-edge/tether/protocol"
)

// heldUpdates are allocation updates the state file could not record (a
// full disk, most often). Every update is an allocation's whole client
// state, so only the newest of each is held; they are recorded, and then
// published, with the next update or at the next heartbeat tick once the
// file takes writes again. The slice is owned by the Run goroutine.
type heldUpdates struct {
	changes []heldChange
	since   time.Time // first failure of this spell; zero when none held

	held     atomic.Uint64 // len(changes), for Counters
	failures atomic.Uint64 // failed attempts to record updates
}

type heldChange struct {
	e *allocEntry // may have been forgotten since: its update is recorded still
	u protocol.AllocUpdate
}

// takeHeld returns the held changes, oldest first, to be recorded ahead of
// newer ones.
func (a *Agent) takeHeld() ([]state.Change, []*allocEntry) {
	cs := make([]state.Change, 0, len(a.unrec.changes))
	es := make([]*allocEntry, 0, len(a.unrec.changes))
	for _, h := range a.unrec.changes {
		cs = append(cs, state.Change{Alloc: &h.e.rec.Alloc, Update: h.u})
		es = append(es, h.e)
	}
	return cs, es
}

// hold keeps the changes the state file refused, the newest per
// allocation. The first failure of a spell is logged at error, the rest
// only counted.
func (a *Agent) hold(cs []state.Change, es []*allocEntry, err error) {
	a.unrec.failures.Add(1)
	at := map[string]int{}
	var out []heldChange
	for i, c := range cs {
		if j, ok := at[c.Alloc.ID]; ok {
			out[j] = heldChange{e: es[i], u: c.Update}
			continue
		}
		at[c.Alloc.ID] = len(out)
		out = append(out, heldChange{e: es[i], u: c.Update})
	}
	if a.unrec.since.IsZero() {
		a.unrec.since = time.Now()
		a.log.Error("cannot record allocation updates in the state file (is the data dir's disk full?): the newest of each allocation is held in memory and sent once it can be recorded; tasks keep running",
			"allocs", len(out), "err", err)
	}
	a.unrec.changes = out
	a.unrec.held.Store(uint64(len(out)))
}

// recordedHeld notes that the held changes were recorded.
func (a *Agent) recordedHeld() {
	if a.unrec.since.IsZero() {
		return
	}
	a.log.Info("the state file takes writes again: held allocation updates recorded",
		"allocs", len(a.unrec.changes), "held_for", time.Since(a.unrec.since).Round(time.Millisecond), "failed_attempts", a.unrec.failures.Load())
	a.unrec.changes, a.unrec.since = nil, time.Time{}
	a.unrec.held.Store(0)
}

// retryHeld tries again to record the held changes (heartbeat tick).
func (a *Agent) retryHeld() {
	if len(a.unrec.changes) > 0 {
		a.handleUpdates(nil)
	}
}
