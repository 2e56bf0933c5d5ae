package cli

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestNeedsDeployment(t *testing.T) {
	job := func(typ string, update *jobspec.UpdateStrategy) *jobspec.Job {
		return &jobspec.Job{Type: typ, TaskGroups: []*jobspec.TaskGroup{{Name: "a"}, {Name: "b", Update: update}}}
	}
	stopped := job("service", &jobspec.UpdateStrategy{MaxParallel: 1})
	stopped.Stop = true
	for _, tc := range []struct {
		name string
		job  *jobspec.Job
		want bool
	}{
		{"service with update", job("service", &jobspec.UpdateStrategy{MaxParallel: 1}), true},
		{"system with update", job("system", &jobspec.UpdateStrategy{MaxParallel: 2}), true},
		{"no update block", job("service", nil), false},
		{"max_parallel 0", job("service", &jobspec.UpdateStrategy{MaxParallel: 0}), false},
		{"batch", job("batch", &jobspec.UpdateStrategy{MaxParallel: 1}), false},
		{"stopped", stopped, false},
	} {
		if got := needsDeployment(tc.job); got != tc.want {
			t.Errorf("%s: needsDeployment = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A canary deployment that needs a manual promotion ends the monitor only
// once every such group's canaries are placed and healthy.
func TestWaitsForPromotion(t *testing.T) {
	d := func(groups ...*structs.DeploymentState) *structs.Deployment {
		ds := &structs.Deployment{Status: structs.DeploymentRunning, TaskGroups: map[string]*structs.DeploymentState{}}
		for i, g := range groups {
			ds.TaskGroups[string(rune('a'+i))] = g
		}
		return ds
	}
	ready := &structs.DeploymentState{DesiredCanaries: 1, PlacedCanaries: []string{"x"}, HealthyAllocs: 1}
	for _, tc := range []struct {
		name string
		d    *structs.Deployment
		want bool
	}{
		{"canary healthy", d(ready), true},
		{"canary not healthy yet", d(&structs.DeploymentState{DesiredCanaries: 1, PlacedCanaries: []string{"x"}}), false},
		{"canary not placed", d(&structs.DeploymentState{DesiredCanaries: 2, PlacedCanaries: []string{"x"}, HealthyAllocs: 1}), false},
		{"auto_promote", d(&structs.DeploymentState{DesiredCanaries: 1, PlacedCanaries: []string{"x"}, HealthyAllocs: 1, AutoPromote: true}), false},
		{"no canaries", d(&structs.DeploymentState{DesiredTotal: 3}), false},
		{"one group ready, one not", d(ready, &structs.DeploymentState{DesiredCanaries: 1}), false},
	} {
		if got := waitsForPromotion(tc.d); got != tc.want {
			t.Errorf("%s: waitsForPromotion = %v, want %v", tc.name, got, tc.want)
		}
	}
}
