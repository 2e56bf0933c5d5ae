package server

import (
	"time"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// process schedules one evaluation and commits its plan with the updated
// evaluation in one Raft entry. dups are queued evaluations of the same job
// that this run answers too: they are completed in the same entry.
func (l *leader) process(e *structs.Evaluation, dups []*structs.Evaluation) error {
	defer l.ops.scheduled(time.Now())
	snap := l.s.store.Snapshot()
	if cur := snap.EvalByID(e.ID); cur != nil && cur.Status != structs.EvalPending {
		return nil // already processed (e.g. queued twice across a leader change)
	}
	now := time.Now().UnixNano()
	upd := *e
	upd.ModifyTime = now
	plan, err := scheduler.Compute(snap, e, scheduler.Options{NewID: structs.GenerateID, Now: now})
	if err != nil {
		upd.Status, upd.StatusDescription = structs.EvalFailed, err.Error()
		_, aerr := l.s.apply(&state.Command{Ops: []state.Op{{UpsertEvals: []*structs.Evaluation{&upd}}}})
		if aerr != nil {
			return aerr
		}
		return err
	}
	l.plans.Add(1)
	plan.EvalID = e.ID
	upd.Status = structs.EvalComplete
	upd.FailedTGAllocs, upd.QueuedAllocations = plan.Failed, plan.Queued
	upd.PlacedAllocs = nil
	for _, a := range plan.Place {
		if a.EvalID == e.ID {
			upd.PlacedAllocs = append(upd.PlacedAllocs, a.ID)
		}
	}
	ops := []state.Op{{ApplyPlan: &state.ApplyPlan{Plan: plan, Eval: &upd, Now: now}}}
	if len(dups) > 0 {
		done := make([]*structs.Evaluation, 0, len(dups))
		for _, d := range dups {
			c := *d
			c.Status, c.StatusDescription, c.ModifyTime = structs.EvalComplete, "coalesced with evaluation "+e.ID, now
			done = append(done, &c)
		}
		ops = append(ops, state.Op{UpsertEvals: done})
	}
	_, err = l.s.apply(&state.Command{Ops: ops})
	return err
}
