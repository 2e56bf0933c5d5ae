package state

import (
	"fmt"

	"github.com/tether-edge/tether/central/structs"
)

// checkFollowups validates a plan's delayed evaluations and the failed
// allocations that name them.
func checkFollowups(p *structs.Plan) error {
	for _, e := range p.FollowupEvals {
		if err := checkEval(e); err != nil {
			return err
		}
	}
	for _, f := range p.Followups {
		if err := checkID("follow-up allocation", f.AllocID); err != nil {
			return err
		}
		if err := checkID("follow-up evaluation", f.EvalID); err != nil {
			return fmt.Errorf("plan %q: %w", p.EvalID, err)
		}
	}
	return nil
}

// applyFollowups inserts a plan's delayed evaluations (pending, with
// WaitUntil: the leader holds them on a timer) and sets FollowupEvalID on
// the failed allocations they will reschedule. An allocation that is gone
// is counted as ignored.
func (a *applier) applyFollowups(p *structs.Plan) {
	for _, e := range p.FollowupEvals {
		a.upsertEval(e)
	}
	for _, f := range p.Followups {
		old := firstTxn[*structs.Allocation](a.txn, TableAllocs, f.AllocID)
		if old == nil {
			a.res.Ignored++
			continue
		}
		c := *old
		c.FollowupEvalID = f.EvalID
		c.ModifyIndex = a.index
		a.insert(TableAllocs, &c)
		a.jobs[jobKey{c.Namespace, c.JobID}] = true
	}
}
