package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// TriggerAllocStop is the trigger of the evaluation an operator's alloc
// stop writes (Nomad's "alloc-stop").
const TriggerAllocStop = "alloc-stop"

// AllocAction records an operator's restart or signal request on an
// allocation: it reaches the agent in its node's desired state, now or
// when the node is back. It returns the action's sequence number and the
// Raft index of the change.
func (s *Server) AllocAction(ctx context.Context, allocID string, ac structs.AllocAction) (seq, index uint64, err error) {
	ac.Time = time.Now().UnixNano()
	res, err := s.apply(&state.Command{Ops: []state.Op{{AllocAction: &state.AllocActionOp{AllocID: allocID, Action: ac}}}})
	if err != nil {
		return 0, 0, lifecycleErr(err)
	}
	if a := s.store.AllocByID(allocID); a != nil && len(a.Actions) > 0 {
		seq = a.Actions[len(a.Actions)-1].Seq
	}
	return seq, res.Index, nil
}

// StopAlloc stops an allocation at an operator's request and evaluates its
// job, so the scheduler places a replacement (on any feasible node, the
// same one included). It returns the evaluation's ID.
func (s *Server) StopAlloc(ctx context.Context, allocID, by string) (evalID string, index uint64, err error) {
	a := s.store.AllocByID(allocID)
	if a == nil || a.Job == nil {
		return "", 0, fmt.Errorf("%w: allocation %q not found", api.ErrInvalid, allocID)
	}
	now := time.Now().UnixNano()
	e := newEval(a.Namespace, a.JobID, a.Job.Type, a.Job.Priority, TriggerAllocStop, "", now)
	res, err := s.apply(&state.Command{Ops: []state.Op{{StopAlloc: &state.StopAlloc{AllocID: allocID, Eval: e, Now: now, By: by}}}})
	if err != nil {
		return "", 0, lifecycleErr(err)
	}
	return e.ID, res.Index, nil
}

// lifecycleErr maps a refused op (the allocation stopped or vanished
// since the API looked) to a conflict the API answers with 409.
func lifecycleErr(err error) error {
	if errors.Is(err, state.ErrBadCommand) || errors.Is(err, state.ErrNotFound) {
		return fmt.Errorf("%w: %v", api.ErrConflict, err)
	}
	return err
}
