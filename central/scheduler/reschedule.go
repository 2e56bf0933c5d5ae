package scheduler

import (
	"slices"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Rescheduling a failed allocation (Nomad's reschedule block). For each
// failed allocation of a service or batch job that nothing replaced yet:
//
//	policy (its job version's group, else the type's default)
//	  -> not enabled, or attempts used up in interval: it stays failed
//	  -> due now (its follow-up evaluation is the one running, or its
//	     time is within rescheduleWindow): replaced, preferably elsewhere
//	  -> due later, no follow-up yet: a delayed evaluation (WaitUntil) is
//	     created and named in its FollowupEvalID, once
//	  -> due later, follow-up exists: it waits for it
//
// The time an allocation failed is its tasks' last FinishedAt (the agent's
// clock, as Nomad), else its ModifyTime, bounded by when central placed it
// and now.

const (
	// rescheduleWindow: a failed allocation due this soon is rescheduled
	// now rather than through a follow-up (Nomad's rescheduleWindowSize).
	rescheduleWindow = time.Second
	// followupBatch: failed allocations due within this much of each
	// other share one follow-up evaluation (Nomad's
	// batchedFailedAllocWindowSize).
	followupBatch = 5 * time.Second
	// maxTrackerEvents is how many earlier reschedules an unlimited
	// policy carries over (Nomad's maxPastRescheduleEvents).
	maxTrackerEvents = 5
)

// DescRescheduled is the desired description of a failed allocation that
// was replaced by a reschedule.
const DescRescheduled = "alloc was rescheduled because it failed"

// reschedDecision is what happens to one failed allocation.
type reschedDecision int

const (
	reschedNever reschedDecision = iota // stays failed (disabled, exhausted, or waiting for its follow-up)
	reschedNow
	reschedLater // needs a follow-up evaluation at the returned time
)

// followup is a failed allocation that needs a delayed evaluation.
type followup struct {
	a  *structs.Allocation
	at int64 // unix ns
}

// reschedulePolicy is the policy of the job version the allocation runs,
// else of the current group, else the job type's default.
func reschedulePolicy(a *structs.Allocation, tg *jobspec.TaskGroup, jobType string) *jobspec.ReschedulePolicy {
	if a.Job != nil {
		if g := a.Job.LookupTaskGroup(a.TaskGroup); g != nil {
			if g.Reschedule != nil {
				return g.Reschedule
			}
			return jobspec.DefaultReschedule(a.Job.Type)
		}
	}
	if tg != nil && tg.Reschedule != nil {
		return tg.Reschedule
	}
	return jobspec.DefaultReschedule(jobType)
}

// failTime is when the allocation failed: its tasks' last FinishedAt,
// else its ModifyTime (both the agent's clock), bounded by central's: not
// before the allocation was placed, not after now. So neither a wrong
// clock nor an agent lying about the time can skip or stretch the delay
// of an allocation that fails soon after it was placed.
func failTime(a *structs.Allocation, now int64) int64 {
	var t int64
	for _, ts := range a.TaskStates {
		if ts != nil && ts.FinishedAt > t {
			t = ts.FinishedAt
		}
	}
	if t == 0 {
		t = a.ModifyTime
	}
	return min(max(t, a.CreateTime), now)
}

// nextDelay is the delay before the allocation's next reschedule: the
// delay function applied to its lineage's earlier delays. A lineage that
// reached max_delay starts again from delay once an allocation ran longer
// than max_delay (Nomad's reset).
func nextDelay(a *structs.Allocation, p *jobspec.ReschedulePolicy, failed int64) time.Duration {
	ev := a.RescheduleTracker
	n := len(ev)
	var prev, last time.Duration
	if n > 0 {
		last = time.Duration(ev[n-1].Delay)
	}
	if n > 1 {
		prev = time.Duration(ev[n-2].Delay)
	}
	d := jobspec.NextRescheduleDelay(p, prev, last, n)
	if n > 0 && p.DelayFunction != jobspec.DelayConstant && p.MaxDelay > 0 && d >= p.MaxDelay &&
		failed-ev[n-1].RescheduleTime > int64(d) {
		d = p.Delay
	}
	return d
}

// attemptsInInterval counts the lineage's reschedules within the policy's
// interval before failed.
func attemptsInInterval(ev []structs.RescheduleEvent, p *jobspec.ReschedulePolicy, failed int64) int {
	n := 0
	for _, e := range ev {
		if failed-e.RescheduleTime < int64(p.Interval) {
			n++
		}
	}
	return n
}

// decideReschedule says whether a failed allocation is rescheduled now,
// later (at, unix ns) or not at all, in the evaluation evalID at now.
func decideReschedule(a *structs.Allocation, tg *jobspec.TaskGroup, jobType, evalID string, now int64) (reschedDecision, int64) {
	p := reschedulePolicy(a, tg, jobType)
	if !p.Enabled() {
		return reschedNever, 0
	}
	failed := failTime(a, now)
	delay := nextDelay(a, p, failed)
	at := failed + int64(delay)
	if !p.Unlimited && (attemptsInInterval(a.RescheduleTracker, p, failed) >= p.Attempts || delay >= p.Interval) {
		return reschedNever, 0
	}
	switch {
	case a.FollowupEvalID != "" && a.FollowupEvalID == evalID, at-now <= int64(rescheduleWindow):
		return reschedNow, at
	case a.FollowupEvalID == "":
		return reschedLater, at
	}
	return reschedNever, at
}

// RescheduleDue reports whether a failed allocation is waiting to be
// replaced by a reschedule at now (attempts left, nothing replaced it,
// delay passed): the leader asks so when capacity returns.
func RescheduleDue(a *structs.Allocation, jobType string, now int64) bool {
	if a.ClientStatus != protocol.AllocFailed || a.DesiredStatus == protocol.DesiredStop || a.NextAllocation != "" {
		return false
	}
	d, _ := decideReschedule(a, nil, jobType, "", now)
	return d == reschedNow
}

// rescheduleTracker is the tracker of prev's replacement: prev's events
// (those within the interval; the last few when unlimited) and one for
// this reschedule.
func rescheduleTracker(prev *structs.Allocation, p *jobspec.ReschedulePolicy, now int64) []structs.RescheduleEvent {
	var out []structs.RescheduleEvent
	old := prev.RescheduleTracker
	if p.Unlimited || p.Attempts == 0 {
		out = slices.Clone(old[max(0, len(old)-maxTrackerEvents):])
	} else {
		for _, e := range old {
			if now-e.RescheduleTime <= int64(p.Interval) {
				out = append(out, e)
			}
		}
	}
	return append(out, structs.RescheduleEvent{
		RescheduleTime: now,
		PrevAllocID:    prev.ID,
		PrevNodeID:     prev.NodeID,
		Delay:          int64(nextDelay(prev, p, failTime(prev, now))),
	})
}

// penaltyNodes are the nodes a rescheduled allocation's lineage failed
// on: ranking scores them lower (Nomad's NodeReschedulingPenaltyIterator).
func (s *sched) penaltyNodes(prev *structs.Allocation) map[int]bool {
	out := map[int]bool{}
	if i, ok := s.nodeByID[prev.NodeID]; ok {
		out[i] = true
	}
	for _, e := range prev.RescheduleTracker {
		if i, ok := s.nodeByID[e.PrevNodeID]; ok {
			out[i] = true
		}
	}
	return out
}

// rescheduled records on a placed replacement the reschedule of prev: the
// tracker carried over, and prev stopped as rescheduled.
func (s *sched) rescheduled(a, prev *structs.Allocation, tg *jobspec.TaskGroup) {
	p := reschedulePolicy(prev, tg, s.job.Type)
	if p == nil {
		p = &jobspec.ReschedulePolicy{}
	}
	a.RescheduleTracker = rescheduleTracker(prev, p, s.opts.Now)
	s.stop(prev, DescRescheduled, "")
}

// addFollowups creates the delayed evaluations for failed allocations due
// later: one per batch of allocations due within followupBatch of the
// batch's first, each named in its allocations' FollowupEvalID.
func (s *sched) addFollowups(fs []followup) {
	if len(fs) == 0 {
		return
	}
	slices.SortStableFunc(fs, func(x, y followup) int {
		switch {
		case x.at < y.at:
			return -1
		case x.at > y.at:
			return 1
		}
		return 0
	})
	var cur *structs.Evaluation
	for _, f := range fs {
		if cur == nil || f.at-cur.WaitUntil >= int64(followupBatch) {
			cur = &structs.Evaluation{
				ID: s.opts.NewID(), Namespace: s.ns, Priority: s.job.Priority, Type: s.job.Type,
				TriggeredBy: structs.TriggerAllocFailure, JobID: s.job.ID, JobModifyIndex: s.job.JobModifyIndex,
				Status: structs.EvalPending, StatusDescription: "created for delayed rescheduling",
				WaitUntil: f.at, CreateTime: s.opts.Now, ModifyTime: s.opts.Now,
			}
			s.plan.FollowupEvals = append(s.plan.FollowupEvals, cur)
		}
		s.plan.Followups = append(s.plan.Followups, structs.AllocFollowup{AllocID: f.a.ID, EvalID: cur.ID})
	}
}
