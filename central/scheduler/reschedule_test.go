package scheduler

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

const sec = int64(time.Second)

// applyResched applies p as the state store does, links included:
// NextAllocation on a replaced alloc, FollowupEvalID from p.Followups.
func applyResched(st *memState, p *structs.Plan) *memState {
	out := st.applyPlan(p)
	set := func(id string, f func(*structs.Allocation)) {
		for i, a := range out.allocs {
			if a.ID == id {
				c := *a
				f(&c)
				out.allocs[i] = &c
			}
		}
	}
	for _, a := range p.Place {
		if a.PreviousAllocation != "" {
			set(a.PreviousAllocation, func(c *structs.Allocation) { c.NextAllocation = a.ID })
		}
	}
	for _, f := range p.Followups {
		set(f.AllocID, func(c *structs.Allocation) { c.FollowupEvalID = f.EvalID })
	}
	// Rebuild the indexes from the patched list.
	res := newState()
	res.jobs, res.nodes = out.jobs, out.nodes
	res.addAlloc(out.allocs...)
	return res
}

// failedAlloc is a's copy that failed at t (unix ns).
func failedAlloc(a *structs.Allocation, t int64) *structs.Allocation {
	a.ClientStatus = protocol.AllocFailed
	a.TaskStates = map[string]*structs.TaskState{"server": {State: "dead", Failed: true, FinishedAt: t}}
	a.ModifyTime = t
	return a
}

func withReschedule(p *jobspec.ReschedulePolicy) func(*jobspec.Job) {
	return func(j *jobspec.Job) { j.TaskGroups[0].Reschedule = p }
}

func TestNextDelayFunctions(t *testing.T) {
	s := time.Second
	cases := []struct {
		name string
		p    jobspec.ReschedulePolicy
		want []time.Duration
	}{
		{"constant", jobspec.ReschedulePolicy{Delay: 5 * s, DelayFunction: "constant", MaxDelay: 7 * s}, []time.Duration{5 * s, 5 * s, 5 * s, 5 * s}},
		{"exponential", jobspec.ReschedulePolicy{Delay: 30 * s, DelayFunction: "exponential", MaxDelay: 200 * s}, []time.Duration{30 * s, 60 * s, 120 * s, 200 * s, 200 * s}},
		{"fibonacci", jobspec.ReschedulePolicy{Delay: 5 * s, DelayFunction: "fibonacci", MaxDelay: 30 * s}, []time.Duration{5 * s, 5 * s, 10 * s, 15 * s, 25 * s, 30 * s, 30 * s}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A lineage that fails right after each reschedule: no reset.
			a := &structs.Allocation{ID: "a"}
			now := int64(1_000) * sec
			for i, want := range c.want {
				got := nextDelay(a, &c.p, now)
				if got != want {
					t.Fatalf("reschedule %d: delay %s, want %s (tracker %+v)", i, got, want, a.RescheduleTracker)
				}
				now += int64(got) // rescheduled after the delay...
				a.RescheduleTracker = append(a.RescheduleTracker, structs.RescheduleEvent{RescheduleTime: now, Delay: int64(got)})
				now += sec // ...and failed again 1s later
			}
		})
	}
	t.Run("reset after running longer than max_delay", func(t *testing.T) {
		p := jobspec.ReschedulePolicy{Delay: 5 * s, DelayFunction: "exponential", MaxDelay: 20 * s}
		a := &structs.Allocation{RescheduleTracker: []structs.RescheduleEvent{{RescheduleTime: 0, Delay: int64(20 * s)}}}
		if got := nextDelay(a, &p, int64(10*s)); got != 20*s {
			t.Fatalf("failed 10s after its reschedule: delay %s, want the ceiling 20s", got)
		}
		if got := nextDelay(a, &p, int64(60*s)); got != 5*s {
			t.Fatalf("ran 60s (> max_delay) before failing: delay %s, want a fresh 5s", got)
		}
	})
}

// TestRescheduleServiceAfterDelay: a failed service alloc gets one delayed
// follow-up evaluation, nothing is placed before it, and the follow-up
// places the replacement on the other node with the links and tracker.
func TestRescheduleServiceAfterDelay(t *testing.T) {
	j := job("web", "service", 1, withReschedule(&jobspec.ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true}))
	st := newState()
	st.addJob(j)
	st.addNode(node("n1"), node("n2"))
	failAt := int64(100) * sec
	st.addAlloc(failedAlloc(runningAlloc(j, "a1", "n1", 0), failAt))

	// An unrelated evaluation 1s after the failure: a follow-up, no placement.
	o := opts()
	o.Now = failAt + sec
	p := mustCompute(t, st, &structs.Evaluation{ID: "e1", Namespace: "default", JobID: "web", Type: "service"}, o)
	if len(p.Place) != 0 || len(p.Stop) != 0 {
		t.Fatalf("placed %d, stopped %d before the delay; want nothing", len(p.Place), len(p.Stop))
	}
	if len(p.FollowupEvals) != 1 || len(p.Followups) != 1 {
		t.Fatalf("follow-ups: %d evals, %d allocs; want 1 and 1", len(p.FollowupEvals), len(p.Followups))
	}
	fe := p.FollowupEvals[0]
	if fe.WaitUntil != failAt+30*sec || fe.Status != structs.EvalPending || fe.TriggeredBy != structs.TriggerAllocFailure {
		t.Fatalf("follow-up eval %+v; want pending alloc-failure at fail+30s", fe)
	}
	if p.Followups[0] != (structs.AllocFollowup{AllocID: "a1", EvalID: fe.ID}) {
		t.Fatalf("followups %+v", p.Followups)
	}
	st = applyResched(st, p)

	// Another evaluation before the time: the follow-up exists, nothing new.
	o.Now = failAt + 10*sec
	p = mustCompute(t, st, &structs.Evaluation{ID: "e2", Namespace: "default", JobID: "web", Type: "service"}, o)
	if len(p.Place) != 0 || len(p.FollowupEvals) != 0 || len(p.Followups) != 0 {
		t.Fatalf("second evaluation: placed %d, %d new follow-ups; want none (the follow-up is created once)", len(p.Place), len(p.FollowupEvals))
	}

	// The follow-up itself, at its time.
	o.Now = fe.WaitUntil
	p = mustCompute(t, st, fe, o)
	if len(p.Place) != 1 {
		t.Fatalf("follow-up placed %d, want 1", len(p.Place))
	}
	b := p.Place[0]
	if b.NodeID != "n2" {
		t.Errorf("replacement on %s; want n2 (n1, where it failed, is penalised)", b.NodeID)
	}
	if b.PreviousAllocation != "a1" || b.Index != 0 {
		t.Errorf("replacement previous %q index %d; want a1, 0", b.PreviousAllocation, b.Index)
	}
	if len(b.RescheduleTracker) != 1 || b.RescheduleTracker[0] != (structs.RescheduleEvent{RescheduleTime: fe.WaitUntil, PrevAllocID: "a1", PrevNodeID: "n1", Delay: 30 * sec}) {
		t.Errorf("tracker %+v", b.RescheduleTracker)
	}
	if len(p.Stop) != 1 || p.Stop[0].ID != "a1" || p.Stop[0].DesiredDescription != DescRescheduled {
		t.Errorf("stops %+v; want a1 stopped as rescheduled", p.Stop)
	}
	st = applyResched(st, p)

	// The replacement fails at once: the next delay doubles.
	for _, a := range st.allocs {
		if a.ID == b.ID {
			failedAlloc(a, fe.WaitUntil+sec)
		}
	}
	o.Now = fe.WaitUntil + 2*sec
	p = mustCompute(t, st, &structs.Evaluation{ID: "e3", Namespace: "default", JobID: "web", Type: "service"}, o)
	if len(p.FollowupEvals) != 1 || p.FollowupEvals[0].WaitUntil != fe.WaitUntil+sec+60*sec {
		t.Fatalf("second failure: follow-ups %+v; want one at fail+60s", p.FollowupEvals)
	}
}

// TestRescheduleBatchAttempts: the batch default (1 attempt in 24h, 5s)
// replaces a failed alloc once; a second failure stays failed, and a
// complete alloc is never replaced.
func TestRescheduleBatchAttempts(t *testing.T) {
	j := job("b", "batch", 2, withReschedule(jobspec.DefaultReschedule("batch")))
	st := newState()
	st.addJob(j)
	st.addNode(node("n1"), node("n2"))
	failAt := int64(50) * sec
	done := runningAlloc(j, "ok", "n2", 1)
	done.ClientStatus = protocol.AllocComplete
	st.addAlloc(failedAlloc(runningAlloc(j, "a1", "n1", 0), failAt), done)

	o := opts()
	o.Now = failAt + 5*sec // due now
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 1 || p.Place[0].PreviousAllocation != "a1" || len(p.Place[0].RescheduleTracker) != 1 {
		t.Fatalf("placed %+v; want one replacement of a1 with a tracker", p.Place)
	}
	st = applyResched(st, p)
	b := p.Place[0].ID
	for _, a := range st.allocs {
		if a.ID == b {
			failedAlloc(a, failAt+20*sec)
		}
	}
	o.Now = failAt + time.Hour.Nanoseconds()
	p = mustCompute(t, st, &structs.Evaluation{ID: "e2", Namespace: "default", JobID: "b", Type: "batch"}, o)
	if len(p.Place) != 0 || len(p.FollowupEvals) != 0 {
		t.Fatalf("attempts used up: placed %d, follow-ups %d; want none", len(p.Place), len(p.FollowupEvals))
	}
	// Attempts count from the failure's time, as Nomad's: a day later it
	// still failed within the interval of the last reschedule.
	o.Now = failAt + 25*time.Hour.Nanoseconds()
	p = mustCompute(t, st, &structs.Evaluation{ID: "e3", Namespace: "default", JobID: "b", Type: "batch"}, o)
	if len(p.Place) != 0 {
		t.Fatalf("a day later: placed %+v; want none", p.Place)
	}
}

func TestRescheduleDisabled(t *testing.T) {
	j := job("web", "service", 1, withReschedule(&jobspec.ReschedulePolicy{Attempts: 0, Unlimited: false, Delay: 5 * time.Second, DelayFunction: "constant"}))
	st := newState()
	st.addJob(j)
	st.addNode(node("n1"), node("n2"))
	st.addAlloc(failedAlloc(runningAlloc(j, "a1", "n1", 0), 10*sec))
	o := opts()
	o.Now = 10 * time.Hour.Nanoseconds()
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 0 || len(p.FollowupEvals) != 0 {
		t.Fatalf("rescheduling off: placed %d, follow-ups %d", len(p.Place), len(p.FollowupEvals))
	}
	// A new job version replaces the failed alloc at once.
	j2 := *j
	j2.Version = 2
	st.addJob(&j2)
	p = mustCompute(t, st, eval(&j2), o)
	if len(p.Place) != 1 || p.Place[0].JobVersion != 2 || p.Place[0].PreviousAllocation != "a1" {
		t.Fatalf("new version: placed %+v; want a1 replaced by version 2", p.Place)
	}
}

// TestRescheduleFollowupsBatched: failures within 5s share a follow-up.
func TestRescheduleFollowupsBatched(t *testing.T) {
	j := job("web", "service", 4, withReschedule(jobspec.DefaultReschedule("service")))
	st := newState()
	st.addJob(j)
	st.addNode(node("n1"), node("n2"))
	base := int64(1000) * sec
	st.addAlloc(
		failedAlloc(runningAlloc(j, "a0", "n1", 0), base),
		failedAlloc(runningAlloc(j, "a1", "n1", 1), base+2*sec),
		failedAlloc(runningAlloc(j, "a2", "n2", 2), base+4*sec),
		failedAlloc(runningAlloc(j, "a3", "n2", 3), base+9*sec),
	)
	o := opts()
	o.Now = base + 10*sec
	p := mustCompute(t, st, eval(j), o)
	if len(p.FollowupEvals) != 2 || len(p.Followups) != 4 {
		t.Fatalf("follow-ups: %d evals for %d allocs; want 2 for 4", len(p.FollowupEvals), len(p.Followups))
	}
	by := map[string]string{}
	for _, f := range p.Followups {
		by[f.AllocID] = f.EvalID
	}
	if by["a0"] != by["a1"] || by["a1"] != by["a2"] || by["a3"] == by["a0"] {
		t.Fatalf("batches %v; want a0, a1, a2 together and a3 apart", by)
	}
}

// TestRescheduleProperties: whatever the policy and the failure times, a
// lineage is never rescheduled before its delay, never more than attempts
// times within interval, and each failed alloc gets at most one follow-up.
func TestRescheduleProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fn := rapid.SampledFrom([]string{"constant", "exponential", "fibonacci"}).Draw(rt, "fn")
		delay := time.Duration(rapid.IntRange(5, 60).Draw(rt, "delay")) * time.Second
		pol := &jobspec.ReschedulePolicy{Delay: delay, DelayFunction: fn, MaxDelay: delay * time.Duration(rapid.IntRange(1, 20).Draw(rt, "maxmul"))}
		if rapid.Bool().Draw(rt, "unlimited") {
			pol.Unlimited = true
		} else {
			pol.Attempts = rapid.IntRange(1, 4).Draw(rt, "attempts")
			pol.Interval = time.Duration(rapid.IntRange(1, 48).Draw(rt, "intervalH")) * time.Hour
		}
		j := job("p", rapid.SampledFrom([]string{"service", "batch"}).Draw(rt, "type"), 1, withReschedule(pol))
		st := newState()
		st.addJob(j)
		st.addNode(node("n1"), node("n2"), node("n3"))
		now := int64(1_000_000) * sec
		cur := failedAlloc(runningAlloc(j, "a0", "n1", 0), now)
		st.addAlloc(cur)
		var times []int64 // reschedule times of the lineage
		evals := 0
		followupsOf := map[string]int{}
		for step := 0; step < 12; step++ {
			evals++
			now += int64(rapid.IntRange(0, 7200).Draw(rt, "advance")) * sec
			e := &structs.Evaluation{ID: "e" + string(rune('a'+evals)), Namespace: "default", JobID: "p", Type: j.Type}
			if cur.FollowupEvalID != "" && rapid.Bool().Draw(rt, "runFollowup") {
				e.ID = cur.FollowupEvalID
			}
			o := opts()
			o.Now = now
			o.NewID = seqIDs("s" + string(rune('a'+step)))
			p, err := Compute(st, e, o)
			if err != nil {
				rt.Fatalf("Compute: %v", err)
			}
			for _, f := range p.Followups {
				followupsOf[f.AllocID]++
				if followupsOf[f.AllocID] > 1 {
					rt.Fatalf("alloc %s got a second follow-up", f.AllocID)
				}
			}
			for _, fe := range p.FollowupEvals {
				if fe.WaitUntil <= now {
					rt.Fatalf("follow-up at %d is not in the future (now %d)", fe.WaitUntil, now)
				}
			}
			st = applyResched(st, p)
			if len(p.Place) > 1 {
				rt.Fatalf("placed %d for count 1", len(p.Place))
			}
			if len(p.Place) == 1 {
				b := p.Place[0]
				ev := b.RescheduleTracker[len(b.RescheduleTracker)-1]
				if fail := failTime(cur, now); now < fail+ev.Delay-int64(rescheduleWindow) && e.ID != cur.FollowupEvalID {
					rt.Fatalf("rescheduled at %d, before fail %d + delay %s", now, fail, time.Duration(ev.Delay))
				}
				if ev.Delay < int64(pol.Delay) || (pol.DelayFunction != "constant" && ev.Delay > int64(pol.MaxDelay)) {
					rt.Fatalf("delay %s outside [delay, max_delay]", time.Duration(ev.Delay))
				}
				times = append(times, now)
				if !pol.Unlimited {
					n := 0
					for _, t := range times {
						if now-t < int64(pol.Interval) {
							n++
						}
					}
					if n > pol.Attempts {
						rt.Fatalf("%d reschedules within %s; attempts = %d", n, pol.Interval, pol.Attempts)
					}
				}
				// The replacement fails some time later.
				now += int64(rapid.IntRange(1, 600).Draw(rt, "runs")) * sec
				for _, a := range st.allocs {
					if a.ID == b.ID {
						failedAlloc(a, now)
						cur = a
					}
				}
			} else {
				for _, a := range st.allocs {
					if a.ID == cur.ID {
						cur = a
					}
				}
			}
		}
	})
}

// TestReschedulePolicyChangeIsInPlace: a new version that changes only the
// reschedule policy updates running allocs in place, as Nomad does.
func TestReschedulePolicyChangeIsInPlace(t *testing.T) {
	j := job("web", "service", 1)
	st := newState()
	st.addNode(node("n1"))
	st.addAlloc(runningAlloc(j, "a1", "n1", 0))
	j2 := job("web", "service", 1, withReschedule(&jobspec.ReschedulePolicy{Delay: time.Minute, DelayFunction: "constant", Unlimited: true}))
	j2.Version = 2
	st.addJob(j2)
	p := mustCompute(t, st, eval(j2), opts())
	if len(p.Stop) != 0 || len(p.Place) != 1 || p.Place[0].ID != "a1" || p.Place[0].JobVersion != 2 {
		t.Fatalf("stop %d, place %+v; want a1 updated in place to version 2", len(p.Stop), p.Place)
	}
}

// TestRescheduleDelayFromPlacementAtLeast: an agent that reports a failure
// time before the allocation existed (a wrong clock, or a lie) does not
// skip the delay: it counts from the placement at the earliest.
func TestRescheduleDelayFromPlacementAtLeast(t *testing.T) {
	j := job("web", "service", 1, withReschedule(jobspec.DefaultReschedule("service")))
	st := newState()
	st.addJob(j)
	st.addNode(node("n1"), node("n2"))
	placed := int64(5_000) * sec
	a := failedAlloc(runningAlloc(j, "a1", "n1", 0), 1) // "failed" in 1970
	a.CreateTime = placed
	st.addAlloc(a)
	o := opts()
	o.Now = placed + 2*sec
	p := mustCompute(t, st, eval(j), o)
	if len(p.Place) != 0 || len(p.FollowupEvals) != 1 || p.FollowupEvals[0].WaitUntil != placed+30*sec {
		t.Fatalf("placed %d, follow-ups %+v; want none placed and one at placement + 30s", len(p.Place), p.FollowupEvals)
	}
}
