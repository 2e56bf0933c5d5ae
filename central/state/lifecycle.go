package state

import (
	"fmt"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// An operator's actions on one allocation (central alloc restart, signal,
// stop). Restart and signal are appended to the allocation's Actions,
// which travel to its agent in the node's desired state; stop sets the
// allocation's desired status to stop and writes an evaluation of its job,
// so the scheduler places a replacement.

// AllocActionOp appends a restart or signal request to an allocation. The
// store gives it the next Seq of the allocation.
type AllocActionOp struct {
	AllocID string              `json:"alloc_id"`
	Action  structs.AllocAction `json:"action"`
}

// StopAlloc stops one allocation at an operator's request; Eval (pending)
// evaluates its job so a replacement is placed.
type StopAlloc struct {
	AllocID string              `json:"alloc_id"`
	Eval    *structs.Evaluation `json:"eval"`
	Now     int64               `json:"now"`
	By      string              `json:"by,omitempty"` // who asked, for the event
}

func (a *applier) allocAction(op *AllocActionOp) error {
	ac := op.Action
	switch ac.Kind {
	case protocol.ActionRestart:
		if ac.Signal != "" {
			return fmt.Errorf("%w: alloc_action: a restart takes no signal", ErrBadCommand)
		}
	case protocol.ActionSignal:
		if ac.Signal == "" {
			return fmt.Errorf("%w: alloc_action: a signal action names no signal", ErrBadCommand)
		}
	default:
		return fmt.Errorf("%w: alloc_action: unknown kind %q (want restart or signal)", ErrBadCommand, ac.Kind)
	}
	old := firstTxn[*structs.Allocation](a.txn, TableAllocs, op.AllocID)
	if old == nil {
		return fmt.Errorf("%w: allocation %q", ErrNotFound, op.AllocID)
	}
	if old.DesiredStatus != protocol.DesiredRun || clientTerminal(old.ClientStatus) {
		return fmt.Errorf("%w: allocation %s is not running (desired %s, client %s)", ErrBadCommand, old.ID, old.DesiredStatus, old.ClientStatus)
	}
	c := *old
	ac.Seq = 1
	if n := len(old.Actions); n > 0 {
		ac.Seq = old.Actions[n-1].Seq + 1
	}
	c.Actions = append(append(make([]structs.AllocAction, 0, len(old.Actions)+1), old.Actions...), ac)
	if len(c.Actions) > protocol.MaxAllocActions {
		c.Actions = c.Actions[len(c.Actions)-protocol.MaxAllocActions:]
	}
	c.ModifyIndex = a.index
	a.insert(TableAllocs, &c)
	a.nodes[c.NodeID] = true
	return nil
}

func (a *applier) stopAlloc(op *StopAlloc) error {
	if op.Eval == nil {
		return fmt.Errorf("%w: stop_alloc: no evaluation", ErrBadCommand)
	}
	if err := checkEval(op.Eval); err != nil {
		return err
	}
	old := firstTxn[*structs.Allocation](a.txn, TableAllocs, op.AllocID)
	if old == nil {
		return fmt.Errorf("%w: allocation %q", ErrNotFound, op.AllocID)
	}
	if old.DesiredStatus != protocol.DesiredRun || clientTerminal(old.ClientStatus) {
		return fmt.Errorf("%w: allocation %s is not running (desired %s, client %s)", ErrBadCommand, old.ID, old.DesiredStatus, old.ClientStatus)
	}
	msg := "stopped by an operator (alloc stop)"
	if op.By != "" {
		msg = "stopped by " + op.By + " (alloc stop)"
	}
	a.stop(&structs.Allocation{
		ID: old.ID, DesiredStatus: protocol.DesiredStop, DesiredDescription: structs.DescStoppedByOperator,
		Events: []structs.AllocEvent{{Type: "Stopped", Time: op.Now, Message: msg}},
	}, op.Now)
	a.upsertEval(op.Eval)
	return nil
}
