package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// UpdateNode sets a node's scheduling eligibility and drain flag in one
// Raft entry, with a node-update evaluation for every job that has a live
// allocation there: the scheduler migrates allocs off a draining node
// (stopped, replaced elsewhere in the same slot) and places nothing new on
// a draining or ineligible one. It returns the evaluations' IDs and the
// Raft index of the change.
func (s *Server) UpdateNode(ctx context.Context, nodeID string, eligible, drain bool) ([]string, uint64, error) {
	n := s.store.NodeByID(nodeID)
	if n == nil {
		return nil, 0, fmt.Errorf("node %q not found: list nodes with `central node status`", nodeID)
	}
	now := time.Now().UnixNano()
	ops := []state.Op{{NodeEligibility: &state.NodeEligibility{NodeID: nodeID, Eligible: eligible, Drain: drain, Now: now}}}
	evals := (&leader{s: s}).evalsForNodeJobs(nodeID, structs.TriggerNodeUpdate, now, nil)
	if len(evals) > 0 {
		ops = append(ops, state.Op{UpsertEvals: evals})
	}
	res, err := s.apply(&state.Command{Ops: ops})
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, 0, len(evals))
	for _, e := range evals {
		ids = append(ids, e.ID)
	}
	return ids, res.Index, nil
}
