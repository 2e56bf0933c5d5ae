package state

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func testDeployment(id, job string, version uint64, canaries int) *structs.Deployment {
	return &structs.Deployment{ID: id, Namespace: "default", JobID: job, JobVersion: version,
		Status: structs.DeploymentRunning, StatusDescription: structs.DescDeploymentRunning,
		TaskGroups: map[string]*structs.DeploymentState{"web": {DesiredTotal: 2, DesiredCanaries: canaries,
			ProgressDeadline: 100, RequireProgressBy: 5000, AutoRevert: true}}}
}

func healthyAt(ts int64, ok, canary bool) *structs.AllocDeploymentStatus {
	return &structs.AllocDeploymentStatus{Healthy: &ok, Timestamp: ts, Canary: canary}
}

func TestDeploymentCreatedByPlanIsCountedFromItsAllocs(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 2), nil))
	a1, a2 := testAlloc("a1", "n1", "web", 0), testAlloc("a2", "n1", "web", 0)
	a1.DeploymentID, a2.DeploymentID = "d1", "d1"
	a1.DeploymentStatus = healthyAt(7000, true, true)
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Place: []*structs.Allocation{a1, a2},
		Deployment: testDeployment("d1", "web", 0, 1)}, Now: 2000}})

	d := h.store.DeploymentByID("d1")
	if d == nil {
		t.Fatal("plan's deployment not stored")
	}
	g := d.TaskGroups["web"]
	if g.PlacedAllocs != 2 || g.HealthyAllocs != 1 || g.UnhealthyAllocs != 0 || len(g.PlacedCanaries) != 1 {
		t.Fatalf("counts %+v, want placed 2 healthy 1 canaries [a1]", g)
	}
	if g.RequireProgressBy != 7100 {
		t.Errorf("require_progress_by %d, want the healthy report (7000) + progress deadline (100)", g.RequireProgressBy)
	}
	if got := h.store.AllocsByDeployment("d1"); len(got) != 2 {
		t.Errorf("allocs by deployment: %d, want 2", len(got))
	}
	if got := h.store.LatestDeploymentByJob("default", "web"); got == nil || got.ID != "d1" {
		t.Errorf("latest deployment %v", got)
	}

	// A later plan that rewrites a1 (e.g. an event) keeps the health
	// the agent reported.
	u := *a1
	u.DeploymentStatus = nil
	u.Events = []structs.AllocEvent{{Type: "Reconnected", Time: 1}}
	h.mustApply(plan([]*structs.Allocation{&u}, nil))
	if ds := h.store.AllocByID("a1").DeploymentStatus; ds == nil || ds.Healthy == nil || !*ds.Healthy {
		t.Fatalf("a plan's copy dropped the alloc's reported health: %+v", ds)
	}
}

func TestUpdateDeploymentPromoteFailAndMarkStable(t *testing.T) {
	h := newHarness(t)
	h.mustApply(upsertJob(testJob("web", 2), nil))
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: testDeployment("d1", "web", 0, 1)}, Now: 2}})

	h.mustApply(Op{UpdateDeployment: &UpdateDeployment{DeploymentID: "d1", Promote: true, Eval: testEval("e2", "web"), Now: 3}})
	if d := h.store.DeploymentByID("d1"); !d.TaskGroups["web"].Promoted || d.Status != structs.DeploymentRunning {
		t.Fatalf("after promote: %+v %+v", d, d.TaskGroups["web"])
	}
	if h.store.EvalByID("e2") == nil {
		t.Error("the op's evaluation was not stored")
	}

	h.mustApply(Op{UpdateDeployment: &UpdateDeployment{DeploymentID: "d1", Status: structs.DeploymentSuccessful,
		StatusDescription: structs.DescDeploymentSuccessful, MarkStable: true, Now: 4}})
	if j := h.store.JobByID("default", "web"); !j.Stable {
		t.Error("job not marked stable")
	}
	if v := h.store.JobVersion("default", "web", 0); !v.Stable {
		t.Error("job version 0 not marked stable")
	}

	// A terminal deployment takes no more status changes.
	res := h.apply(Op{UpdateDeployment: &UpdateDeployment{DeploymentID: "d1", Status: structs.DeploymentFailed, Now: 5}})
	if !errors.Is(res.Err, ErrDeploymentDone) {
		t.Fatalf("fail after success: err %v, want ErrDeploymentDone", res.Err)
	}
	if d := h.store.DeploymentByID("d1"); d.Status != structs.DeploymentSuccessful {
		t.Fatalf("status %s after a refused fail", d.Status)
	}
	if res := h.apply(Op{UpdateDeployment: &UpdateDeployment{DeploymentID: "nope", Status: structs.DeploymentFailed}}); !errors.Is(res.Err, ErrNotFound) {
		t.Errorf("unknown deployment: %v", res.Err)
	}

	// Resubmitting the same spec after it became stable is no new version.
	h.mustApply(upsertJob(testJob("web", 2), nil))
	if j := h.store.JobByID("default", "web"); j.Version != 0 {
		t.Errorf("same spec after stable made version %d", j.Version)
	}
}

func TestPlanCancelsOlderDeployment(t *testing.T) {
	h := newHarness(t)
	h.mustApply(upsertJob(testJob("web", 2), nil))
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: testDeployment("d1", "web", 0, 0)}, Now: 2}})
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: testDeployment("d2", "web", 1, 0),
		DeploymentUpdates: []*structs.DeploymentStatusUpdate{{DeploymentID: "d1", Status: structs.DeploymentCancelled,
			StatusDescription: structs.DescDeploymentNewerJob}}}, Now: 3}})
	if d := h.store.DeploymentByID("d1"); d.Status != structs.DeploymentCancelled {
		t.Fatalf("d1 %s, want cancelled", d.Status)
	}
	if ds := h.store.DeploymentsByJob("default", "web"); len(ds) != 2 || ds[0].ID != "d2" {
		t.Fatalf("deployments by job, newest first: %v", ds)
	}
}

func TestSnapshotKeepsDeployments(t *testing.T) {
	h := newHarness(t)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(testJob("web", 2), nil))
	a1 := testAlloc("a1", "n1", "web", 0)
	a1.DeploymentID = "d1"
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Place: []*structs.Allocation{a1},
		Deployment: testDeployment("d1", "web", 0, 0)}, Now: 2}})
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
	d := fresh.Store().DeploymentByID("d1")
	if d == nil || d.TaskGroups["web"].PlacedAllocs != 1 {
		t.Fatalf("restored deployment %+v", d)
	}
	if len(fresh.Store().AllocsByDeployment("d1")) != 1 {
		t.Error("deployment index of allocs not rebuilt on restore")
	}
	if fresh.Store().Index(TableDeployments) != h.store.Index(TableDeployments) {
		t.Error("deployments table index not restored")
	}
}

func TestGCDeletesFinishedDeploymentsAndAJobsOwn(t *testing.T) {
	h := newHarness(t)
	h.mustApply(upsertJob(testJob("web", 2), nil))
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: testDeployment("d1", "web", 0, 0)}, Now: 2}})
	h.mustApply(Op{ApplyPlan: &ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: testDeployment("d2", "web", 1, 0),
		DeploymentUpdates: []*structs.DeploymentStatusUpdate{{DeploymentID: "d1", Status: structs.DeploymentCancelled}}}, Now: 3}})
	d1, d2 := h.store.DeploymentByID("d1"), h.store.DeploymentByID("d2")
	res := h.mustApply(Op{GC: &GC{Deployments: []GCRef{{ID: "d1", ModifyIndex: d1.ModifyIndex}, {ID: "d2", ModifyIndex: d2.ModifyIndex}}}})
	if h.store.DeploymentByID("d1") != nil || res.GC.Deployments != 1 {
		t.Fatalf("finished d1 not collected (%+v)", res.GC)
	}
	if h.store.DeploymentByID("d2") == nil || res.Ignored != 1 {
		t.Fatal("the active d2 was collected")
	}
	// A stopped job collected takes its deployments along.
	h.mustApply(Op{StopJob: &StopJob{Namespace: "default", JobID: "web"}})
	j := h.store.JobByID("default", "web")
	res = h.mustApply(Op{GC: &GC{Jobs: []GCRef{{Namespace: "default", ID: "web", ModifyIndex: j.ModifyIndex}}}})
	if res.GC.Jobs != 1 || len(h.store.DeploymentsByJob("default", "web")) != 0 {
		t.Fatalf("job GC left deployments: %+v %v", res.GC, h.store.DeploymentsByJob("default", "web"))
	}
}
