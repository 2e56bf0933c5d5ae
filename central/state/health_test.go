package state

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// An agent's health report sets the alloc's deployment status once, for
// the deployment the alloc belongs to; a report for another deployment
// (stale: the alloc moved on) or a repeat changes nothing, and the canary
// flag set at placement stays.
func TestClientUpdateAppliesDeploymentHealth(t *testing.T) {
	h := newHarness(t)
	job := testJob("j", 1)
	h.mustApply(nodeOp(testNode("n1")), upsertJob(job, nil))
	a := testAlloc("a1", "n1", "j", h.store.JobByID("default", "j").Version)
	a.DeploymentID = "d2"
	a.DeploymentStatus = &structs.AllocDeploymentStatus{Canary: true}
	h.mustApply(plan([]*structs.Allocation{a}, nil))

	report := func(seq uint64, r *AllocHealthReport) {
		t.Helper()
		h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n1", Seq: seq, Now: 5000 + int64(seq),
			Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running", Seq: seq, Health: r}}}})
	}
	// Another node cannot report on this node's alloc.
	h.mustApply(nodeOp(testNode("n2")))
	res := h.mustApply(Op{ClientUpdate: &ClientUpdate{NodeID: "n2", Seq: 1, Now: 5000,
		Allocs: []AllocClientUpdate{{ID: "a1", ClientStatus: "running", Seq: 1, Health: &AllocHealthReport{DeploymentID: "d2", Healthy: true, Time: 4000}}}}})
	if ds := h.store.AllocByID("a1").DeploymentStatus; res.Ignored != 1 || ds.Healthy != nil {
		t.Fatalf("another node's report was applied (ignored %d): %+v", res.Ignored, ds)
	}
	report(1, &AllocHealthReport{DeploymentID: "d1", Healthy: true, Time: 4000})
	if ds := h.store.AllocByID("a1").DeploymentStatus; ds == nil || ds.Healthy != nil || !ds.Canary {
		t.Fatalf("a report for an earlier deployment was applied: %+v", ds)
	}
	report(2, &AllocHealthReport{DeploymentID: "d2", Healthy: false, Time: 4100, Reason: strings.Repeat("x", 2*MaxHealthReason)})
	ds := h.store.AllocByID("a1").DeploymentStatus
	if ds == nil || ds.Healthy == nil || *ds.Healthy || ds.Timestamp != 4100 || len(ds.Reason) != MaxHealthReason || !ds.Canary {
		t.Fatalf("deployment status after the report = %+v", ds)
	}
	report(3, &AllocHealthReport{DeploymentID: "d2", Healthy: true, Time: 4200})
	if ds := h.store.AllocByID("a1").DeploymentStatus; ds.Healthy == nil || *ds.Healthy || ds.Timestamp != 4100 {
		t.Fatalf("a second report changed the decided health: %+v", ds)
	}
	report(4, nil) // later updates without health keep it
	if ds := h.store.AllocByID("a1").DeploymentStatus; ds == nil || ds.Healthy == nil || *ds.Healthy {
		t.Fatalf("an update without health lost it: %+v", ds)
	}
}

func TestHealthIsNews(t *testing.T) {
	yes := true
	a := &structs.Allocation{DeploymentID: "d1"}
	cases := []struct {
		name  string
		alloc *structs.Allocation
		r     *AllocHealthReport
		want  bool
	}{
		{"first report", a, &AllocHealthReport{DeploymentID: "d1"}, true},
		{"no report", a, nil, false},
		{"stale deployment", a, &AllocHealthReport{DeploymentID: "d0"}, false},
		{"no deployment id", &structs.Allocation{}, &AllocHealthReport{}, false},
		{"already known", &structs.Allocation{DeploymentID: "d1", DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes}}, &AllocHealthReport{DeploymentID: "d1"}, false},
		{"canary not yet known", &structs.Allocation{DeploymentID: "d1", DeploymentStatus: &structs.AllocDeploymentStatus{Canary: true}}, &AllocHealthReport{DeploymentID: "d1"}, true},
	}
	for _, c := range cases {
		if got := HealthIsNews(c.alloc, c.r); got != c.want {
			t.Errorf("%s: HealthIsNews = %v, want %v", c.name, got, c.want)
		}
	}
}
