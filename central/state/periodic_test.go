package state

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func periodicParent(id string, overlap bool) *jobspec.Job {
	j := testJob(id, 1)
	j.Type = jobspec.JobTypeBatch
	j.Periodic = &jobspec.Periodic{Crons: []string{"* * * * *"}, Enabled: true, ProhibitOverlap: overlap}
	return j
}

// launchOp is the op the leader sends for parent's launch at unix second sec.
func launchOp(parent *jobspec.Job, sec int64, force bool) Op {
	c := parent.PeriodicChild(time.Unix(sec, 0))
	return Op{LaunchPeriodic: &LaunchPeriodic{Child: c, Eval: testEval("e-"+c.ID, c.ID), Launch: sec * 1e9, Force: force, Now: sec * 1e9}}
}

func TestLaunchPeriodicOnceEach(t *testing.T) {
	h := newHarness(t)
	p := periodicParent("cron", false)
	h.mustApply(upsertJob(p, nil))

	r := h.mustApply(launchOp(p, 60, false))
	c := h.store.JobByID("default", "cron/periodic-60")
	if c == nil || c.ParentID != "cron" || c.Periodic != nil || c.SubmitTime != 60e9 {
		t.Fatalf("child %+v", c)
	}
	if len(r.EvalsCreated) != 1 || r.EvalsCreated[0].JobID != c.ID {
		t.Fatalf("evals created %+v", r.EvalsCreated)
	}
	if l := h.store.PeriodicLaunchOf("default", "cron"); l == nil || l.Launch != 60e9 {
		t.Fatalf("launch record %+v", l)
	}

	// The same launch again (a second leader), and an older one: nothing.
	for _, op := range []Op{launchOp(p, 60, false), launchOp(p, 30, false)} {
		r := h.mustApply(op)
		if len(r.EvalsCreated) != 0 || r.Ignored != 1 {
			t.Fatalf("repeated launch created %d evals, ignored %d", len(r.EvalsCreated), r.Ignored)
		}
	}
	if h.store.JobByID("default", "cron/periodic-30") != nil {
		t.Fatal("a launch older than the last one was registered")
	}
	// Without prohibit_overlap the next launch runs beside the first.
	h.mustApply(launchOp(p, 120, false))
	if got := len(h.store.ChildJobs("default", "cron")); got != 2 {
		t.Fatalf("%d children, want 2", got)
	}
}

func TestLaunchPeriodicProhibitOverlapAndForce(t *testing.T) {
	h := newHarness(t)
	p := periodicParent("cron", true)
	h.mustApply(upsertJob(p, nil))
	h.mustApply(launchOp(p, 60, false))

	r := h.mustApply(launchOp(p, 120, false)) // the first child is pending
	if h.store.JobByID("default", "cron/periodic-120") != nil || r.Ignored != 1 {
		t.Fatal("launched while the previous child runs, with prohibit_overlap")
	}
	if l := h.store.PeriodicLaunchOf("default", "cron"); l.Launch != 120e9 {
		t.Fatalf("a skipped launch is handled too: record %d, want 120e9", l.Launch)
	}
	// Force launches anyway, and is not a scheduled launch.
	h.mustApply(launchOp(p, 130, true))
	if h.store.JobByID("default", "cron/periodic-130") == nil {
		t.Fatal("force did not launch")
	}
	if l := h.store.PeriodicLaunchOf("default", "cron"); l.Launch != 120e9 {
		t.Fatalf("force moved the launch record to %d", l.Launch)
	}
	// Once every child is dead the next launch runs.
	for _, id := range []string{"cron/periodic-60", "cron/periodic-130"} {
		done := testEval("e-"+id, id)
		done.Status = "complete"
		h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: id}}, Op{UpsertEvals: []*structs.Evaluation{done}})
		if st := h.store.JobByID("default", id).Status; st != jobspec.JobStatusDead {
			t.Fatalf("child %s is %s", id, st)
		}
	}
	h.mustApply(launchOp(p, 180, false))
	if h.store.JobByID("default", "cron/periodic-180") == nil {
		t.Fatal("not launched after the previous children ended")
	}
}

func TestLaunchPeriodicRefusedForInactiveParents(t *testing.T) {
	h := newHarness(t)
	p := periodicParent("cron", false)
	if r := h.apply(launchOp(p, 60, false)); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("launch of an unknown job: %v", r.Err)
	}
	disabled := periodicParent("cron", false)
	disabled.Periodic.Enabled = false
	h.mustApply(upsertJob(disabled, nil))
	if r := h.apply(launchOp(p, 60, true)); !errors.Is(r.Err, ErrNotPeriodic) {
		t.Fatalf("force of a disabled job: %v", r.Err)
	}
	h.mustApply(upsertJob(p, nil))
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "cron"}})
	if r := h.apply(launchOp(p, 60, false)); !errors.Is(r.Err, ErrNotPeriodic) {
		t.Fatalf("launch of a stopped job: %v", r.Err)
	}
	// A child that does not belong to its parent's name is refused.
	bad := launchOp(p, 60, false)
	bad.LaunchPeriodic.Child.ID = "other/periodic-60"
	if r := h.apply(bad); !errors.Is(r.Err, ErrBadCommand) {
		t.Fatalf("mismatched child: %v", r.Err)
	}
	if len(h.store.ChildJobs("default", "cron")) != 0 {
		t.Fatal("a refused launch registered a child")
	}
}

func TestPeriodicLaunchPurgedAndSnapshotted(t *testing.T) {
	h := newHarness(t)
	p := periodicParent("cron", false)
	h.mustApply(upsertJob(p, nil), upsertJob(periodicParent("other", false), nil))
	h.mustApply(launchOp(p, 60, false))
	if got := h.store.PeriodicJobs(); len(got) != 2 {
		t.Fatalf("%d periodic jobs, want 2", len(got))
	}

	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := NewFSM(NewStore(), nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if l := fresh.Store().PeriodicLaunchOf("default", "cron"); l == nil || l.Launch != 60e9 {
		t.Fatalf("launch record after restore: %+v", l)
	}
	if got := fresh.Store().PeriodicJobs(); len(got) != 2 {
		t.Fatalf("%d periodic jobs after restore, want 2", len(got))
	}

	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "cron", Purge: true}})
	if h.store.PeriodicLaunchOf("default", "cron") != nil {
		t.Fatal("purge left the launch record")
	}
	if got := h.store.PeriodicJobs(); len(got) != 1 || got[0].ID != "other" {
		t.Fatalf("periodic jobs after purge: %d", len(got))
	}
	// The child is left alone, as Nomad leaves it.
	if h.store.JobByID("default", "cron/periodic-60") == nil {
		t.Fatal("purging the parent removed its child")
	}
}

// A stopped periodic job collected by the GC takes its launch record with it.
func TestPeriodicLaunchCollectedWithItsJob(t *testing.T) {
	h := newHarness(t)
	p := periodicParent("cron", false)
	h.mustApply(upsertJob(p, nil))
	h.mustApply(launchOp(p, 60, false))
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "cron"}})
	j := h.store.JobByID("default", "cron")
	if j.Status != jobspec.JobStatusDead {
		t.Fatalf("stopped periodic job is %s", j.Status)
	}
	r := h.mustApply(Op{GC: &GC{Jobs: []GCRef{{Namespace: "default", ID: "cron", ModifyIndex: j.ModifyIndex}}}})
	if r.GC.Jobs != 1 || h.store.JobByID("default", "cron") != nil {
		t.Fatalf("job not collected: %+v", r.GC)
	}
	if h.store.PeriodicLaunchOf("default", "cron") != nil {
		t.Fatal("the collected job's launch record stayed")
	}
}
