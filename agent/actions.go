package agent

import (
	"fmt"

	"github.com/tether-edge/tether/protocol"
)

// Operator actions (central alloc restart|signal) arrive in the desired
// state, in DesiredAlloc.Actions. Each is applied once: the highest Seq
// applied is saved in the allocation's record before the action is handed
// to its runner, so a reboot or a repeated desired state never applies it
// again (at most once: an agent that dies between the two loses it, and
// the operator sees no task event for it).

// pendingActions are the new actions of one allocation.
type pendingActions struct {
	e    *allocEntry
	acts []protocol.AllocAction
}

// lastAction is the highest action Seq of da (0: none).
func lastAction(da *protocol.DesiredAlloc) uint64 {
	var last uint64
	for _, ac := range da.Actions {
		last = max(last, ac.Seq)
	}
	return last
}

// newActions returns da's actions above seq, oldest first.
func newActions(da *protocol.DesiredAlloc, seq uint64) []protocol.AllocAction {
	var out []protocol.AllocAction
	for _, ac := range da.Actions {
		if ac.Seq > seq {
			out = append(out, ac)
		}
	}
	return out
}

// checkActions refuses an allocation whose actions the agent would not
// know how to apply.
func checkActions(da *protocol.DesiredAlloc) error {
	if len(da.Actions) > protocol.MaxAllocActions {
		return fmt.Errorf("allocation %s: %d operator actions, over the limit of %d", da.ID, len(da.Actions), protocol.MaxAllocActions)
	}
	for _, ac := range da.Actions {
		switch {
		case ac.Kind != protocol.ActionRestart && ac.Kind != protocol.ActionSignal:
			return fmt.Errorf("allocation %s: operator action %d: unknown kind %q (this agent knows restart and signal: upgrade it)", da.ID, ac.Seq, ac.Kind)
		case ac.Kind == protocol.ActionSignal && (ac.Signal == "" || len(ac.Signal) > 16):
			return fmt.Errorf("allocation %s: operator action %d: signal %q is not a signal name", da.ID, ac.Seq, ac.Signal)
		}
	}
	return nil
}
