package state

import (
	"errors"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestUpsertJobVersionsOnlyOnSpecChange(t *testing.T) {
	h := newHarness(t)

	r1 := h.mustApply(upsertJob(testJob("web", 2), testEval("e1", "web")))
	j := h.store.JobByID("default", "web")
	if j == nil || j.Version != 0 || j.JobModifyIndex != 1 || j.CreateIndex != 1 || j.SubmitTime != 1000 {
		t.Fatalf("first submit: %+v", j)
	}
	if j.Status != jobspec.JobStatusPending {
		t.Errorf("status %q, want pending", j.Status)
	}
	if r1.JobIndex != 1 || len(r1.EvalsCreated) != 1 || r1.EvalsCreated[0].JobModifyIndex != 1 {
		t.Errorf("result %+v", r1)
	}

	// Same spec again: same version, JobModifyIndex unchanged, eval still made.
	r2 := h.mustApply(upsertJob(testJob("web", 2), testEval("e2", "web")))
	j = h.store.JobByID("default", "web")
	if j.Version != 0 || j.JobModifyIndex != 1 || r2.JobIndex != 1 {
		t.Fatalf("resubmit same spec: version %d jmi %d result %d", j.Version, j.JobModifyIndex, r2.JobIndex)
	}
	if e := h.store.EvalByID("e2"); e == nil || e.JobModifyIndex != 1 || e.CreateIndex != 2 {
		t.Fatalf("eval e2: %+v", e)
	}

	// Changed spec: version + 1, CreateIndex kept.
	r3 := h.mustApply(upsertJob(testJob("web", 3), nil))
	j = h.store.JobByID("default", "web")
	if j.Version != 1 || j.JobModifyIndex != 3 || j.CreateIndex != 1 || r3.JobIndex != 3 {
		t.Fatalf("changed spec: %+v", j)
	}
	vs := h.store.JobVersions("default", "web")
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 0 {
		t.Fatalf("versions newest first: got %d", len(vs))
	}
	if v0 := h.store.JobVersion("default", "web", 0); v0 == nil || v0.TaskGroups[0].Count != 2 {
		t.Fatalf("version 0: %+v", v0)
	}
	if h.store.Index(TableJobs) != 3 || h.store.Index(TableEvals) != 2 || h.store.Index("") != 3 {
		t.Errorf("indexes jobs=%d evals=%d all=%d", h.store.Index(TableJobs), h.store.Index(TableEvals), h.store.Index(""))
	}
}

func TestJobsListSortedAndByNamespace(t *testing.T) {
	h := newHarness(t)
	b := testJob("b", 1)
	a := testJob("a", 1)
	other := testJob("a", 1)
	other.Namespace = "prod"
	noNS := testJob("c", 1)
	noNS.Namespace = ""
	h.mustApply(upsertJob(b, nil), upsertJob(a, nil), upsertJob(other, nil), upsertJob(noNS, nil))

	var got []string
	for _, j := range h.store.Jobs("") {
		got = append(got, j.Namespace+"/"+j.ID)
	}
	want := []string{"default/a", "default/b", "default/c", "prod/a"}
	if len(got) != len(want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("jobs %v, want %v", got, want)
		}
	}
	if n := len(h.store.Jobs("prod")); n != 1 {
		t.Errorf("prod jobs: %d", n)
	}
}

func TestJobVersionRetention(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")))
	h.mustApply(upsertJob(testJob("web", 1), nil)) // v0
	h.mustApply(upsertJob(testJob("web", 2), nil)) // v1
	h.mustApply(plan([]*testAllocT{testAlloc("a-v1", "n1", "web", 1)}, nil))
	for c := 3; c <= 10; c++ { // v2..v9
		h.mustApply(upsertJob(testJob("web", c), nil))
	}
	var got []uint64
	for _, v := range h.store.JobVersions("default", "web") {
		got = append(got, v.Version)
	}
	want := []uint64{9, 8, 7, 6, 5, 4, 1} // newest 6, plus v1 used by an alloc
	if len(got) != len(want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("versions %v, want %v", got, want)
		}
	}
	if a := h.store.AllocByID("a-v1"); a.Job == nil || a.Job.Version != 1 {
		t.Fatalf("alloc job version not linked: %+v", a.Job)
	}
}

func TestStopAndPurge(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), nil))
	h.mustApply(plan([]*testAllocT{testAlloc("a1", "n1", "web", 0)}, nil))

	r := h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "web", Eval: testEval("stop", "web"), Now: 5}})
	j := h.store.JobByID("default", "web")
	if !j.Stop || j.Version != 1 || j.SubmitTime != 5 || r.JobIndex != r.Index {
		t.Fatalf("stopped job: %+v", j)
	}
	if e := h.store.EvalByID("stop"); e == nil || e.JobModifyIndex != r.Index {
		t.Fatalf("stop eval: %+v", e)
	}
	if len(r.NodesChanged) != 0 {
		t.Errorf("stopping a job changes no node until the plan: %v", r.NodesChanged)
	}

	// Stopping again makes no new version.
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "web"}})
	if j := h.store.JobByID("default", "web"); j.Version != 1 {
		t.Fatalf("second stop made version %d", j.Version)
	}

	// Resubmitting the same spec un-stops it: a spec change (Stop differs).
	h.mustApply(upsertJob(testJob("web", 1), nil))
	if j := h.store.JobByID("default", "web"); j.Stop || j.Version != 2 {
		t.Fatalf("resubmitted: stop=%v version=%d", j.Stop, j.Version)
	}

	// Purge deletes the job and the versions no alloc uses.
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "web", Purge: true}})
	if h.store.JobByID("default", "web") != nil {
		t.Fatal("purged job still readable")
	}
	vs := h.store.JobVersions("default", "web")
	if len(vs) != 1 || vs[0].Version != 0 {
		t.Fatalf("after purge want only v0 (used by a1), got %d versions", len(vs))
	}
	// Registering again continues after the kept version: no collision.
	h.mustApply(upsertJob(testJob("web", 4), nil))
	if j := h.store.JobByID("default", "web"); j.Version != 1 {
		t.Fatalf("re-registered after purge: version %d, want 1", j.Version)
	}
	if a := h.store.AllocByID("a1"); a.Job.TaskGroups[0].Count != 1 {
		t.Fatal("old alloc's job version was overwritten")
	}

	res := h.apply(Op{StopJob: &StopJob{Namespace: "default", JobID: "nope"}})
	if !errors.Is(res.Err, ErrNotFound) {
		t.Fatalf("stop unknown job: %v", res.Err)
	}
}

func TestJobStatusFollowsAllocsAndEvals(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 1), testEval("e1", "web")))
	if st := h.store.JobByID("default", "web").Status; st != jobspec.JobStatusPending {
		t.Fatalf("with a pending eval: %q", st)
	}
	done := testEval("e1", "web")
	done.Status = "complete"
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs_Plan{Place: []*testAllocT{testAlloc("a1", "n1", "web", 0)}}, Eval: done}})
	if st := h.store.JobByID("default", "web").Status; st != jobspec.JobStatusRunning {
		t.Fatalf("with a pending alloc: %q", st)
	}
	h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "complete"}}}})
	if st := h.store.JobByID("default", "web").Status; st != jobspec.JobStatusDead {
		t.Fatalf("all terminal: %q", st)
	}
	// The version table keeps the submitted object.
	if v := h.store.JobVersion("default", "web", 0); v.Status != jobspec.JobStatusPending {
		t.Errorf("version status changed: %q", v.Status)
	}
}

// A periodic or parameterized parent is running while registered and not
// stopped, as Nomad shows it: it never has allocations or evaluations.
func TestParentJobStatusRunningUntilStopped(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*jobspec.Job)
	}{
		{"periodic", func(j *jobspec.Job) { j.Periodic = &jobspec.Periodic{Crons: []string{"* * * * *"}, Enabled: true} }},
		{"parameterized", func(j *jobspec.Job) { j.Parameterized = &jobspec.Parameterized{Payload: "optional"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			j := testJob("cron", 1)
			j.Type = jobspec.JobTypeBatch
			tt.mod(j)
			h.mustApply(upsertJob(j, nil))
			if st := h.store.JobByID("default", "cron").Status; st != jobspec.JobStatusRunning {
				t.Fatalf("registered parent: %q, want running", st)
			}
			h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "cron"}})
			if st := h.store.JobByID("default", "cron").Status; st != jobspec.JobStatusDead {
				t.Fatalf("stopped parent: %q, want dead", st)
			}
		})
	}
}

// A job whose latest evaluation left allocations unplaced is pending (as
// Nomad, which keeps a blocked evaluation for them), not dead.
func TestUnplaceableJobIsPending(t *testing.T) {
	h := newHarness(t)
	h.mustApply(upsertJob(testJob("huge", 1), testEval("e1", "huge")))
	done := testEval("e1", "huge")
	done.Status = structs.EvalComplete
	done.QueuedAllocations = map[string]int{"web": 1}
	done.FailedTGAllocs = map[string]*structs.AllocMetric{"web": {NodesEvaluated: 1, NodesExhausted: 1}}
	h.mustApply(Op{UpsertEvals: []*structs.Evaluation{done}})
	if st := h.store.JobByID("default", "huge").Status; st != jobspec.JobStatusPending {
		t.Fatalf("job nothing could place: %q, want pending", st)
	}
}
