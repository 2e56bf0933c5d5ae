package gc

import (
	"testing"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Finished deployments older than the eval threshold are collected, except
// each job's newest; active ones never.
func TestComputeCollectsOldFinishedDeployments(t *testing.T) {
	st := state.NewStore()
	job := &jobspec.Job{ID: "web", Namespace: "default", Type: "service", TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 1}}}
	st.ApplyDirect(1, &state.Command{Ops: []state.Op{{UpsertJob: &state.UpsertJob{Job: job, Now: 1}}}})
	dep := func(id string, status string) *structs.Deployment {
		return &structs.Deployment{ID: id, Namespace: "default", JobID: "web", Status: status,
			TaskGroups: map[string]*structs.DeploymentState{"g": {DesiredTotal: 1}}}
	}
	now := time.Unix(100_000, 0)
	old := now.Add(-2 * time.Hour).UnixNano()
	for i, d := range []*structs.Deployment{dep("d1", structs.DeploymentRunning), dep("d2", structs.DeploymentRunning), dep("d3", structs.DeploymentRunning)} {
		st.ApplyDirect(uint64(2+i), &state.Command{Ops: []state.Op{{ApplyPlan: &state.ApplyPlan{Plan: &structs.Plan{EvalID: "e", Deployment: d}, Now: old}}}})
	}
	st.ApplyDirect(10, &state.Command{Ops: []state.Op{
		{UpdateDeployment: &state.UpdateDeployment{DeploymentID: "d1", Status: structs.DeploymentFailed, Now: old}},
		{UpdateDeployment: &state.UpdateDeployment{DeploymentID: "d3", Status: structs.DeploymentSuccessful, Now: old}},
	}})
	op := Compute(st.Snapshot(), now, Thresholds{Eval: time.Hour, Job: time.Hour, BatchEval: time.Hour}, false)
	if len(op.Deployments) != 1 || op.Deployments[0].ID != "d1" {
		t.Fatalf("collected %+v, want only d1 (d2 is active, d3 the job's newest)", op.Deployments)
	}
	if Empty(op) {
		t.Error("an op with deployments is empty")
	}
	if parts := Split(op, 1); len(parts) == 0 || len(parts[len(parts)-1].Deployments) != 1 {
		t.Errorf("split lost the deployment: %+v", parts)
	}
}
