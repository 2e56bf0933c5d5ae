package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// UpdateNode sets a node's scheduling eligibility and drain flag in one
// Raft entry, with a node-update evaluation for every job that has a live
// allocation there: the scheduler migrates allocs off a draining node
// (stopped, replaced elsewhere in the same slot) and places nothing new on
// a draining or ineligible one. When the change makes the node eligible
// again (its drain disabled, or marked eligible), every system and sysbatch
// job that may run there, and every job short of its count, is evaluated
// too, so that what the drain stopped comes back and what could not be
// placed while the node was closed is placed now. It returns the evaluations' IDs and the Raft index of the
// change.
func (s *Server) UpdateNode(ctx context.Context, nodeID string, eligible, drain bool) ([]string, uint64, error) {
	n := s.store.NodeByID(nodeID)
	if n == nil {
		return nil, 0, fmt.Errorf("node %q not found: list nodes with `central node status`", nodeID)
	}
	now := time.Now().UnixNano()
	ops := []state.Op{{NodeEligibility: &state.NodeEligibility{NodeID: nodeID, Eligible: eligible, Drain: drain, Now: now}}}
	seen := map[[2]string]bool{}
	evals := (&leader{s: s}).evalsForNodeJobs(nodeID, structs.TriggerNodeUpdate, now, seen)
	if eligible && !drain && !(n.Eligible && !n.Drain) {
		evals = append(evals, s.evalsForEveryNodeJobs(n, now, seen)...)
	}
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

// evalsForEveryNodeJobs returns a node-update evaluation for every job,
// not stopped and not already in seen, that may run on n (its datacenters,
// drivers and constraints) and either runs on every node (system,
// sysbatch) or is short of its count (jobShort: allocations queued while
// the node was draining or ineligible have no other trigger to be placed).
func (s *Server) evalsForEveryNodeJobs(n *structs.Node, now int64, seen map[[2]string]bool) []*structs.Evaluation {
	var evals []*structs.Evaluation
	l := &leader{s: s}
	for _, job := range s.store.Jobs("") {
		key := [2]string{job.Namespace, job.ID}
		if job.Stop || job.IsParent() || seen[key] || !scheduler.NodeMayRun(job, n) {
			continue
		}
		if !jobspec.OnEveryNode(job.Type) && !l.jobShort(job) {
			continue
		}
		seen[key] = true
		evals = append(evals, newEval(job.Namespace, job.ID, job.Type, job.Priority, structs.TriggerNodeUpdate, n.ID, now))
	}
	return evals
}
