package desired

import (
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// An allocation a deployment placed carries its deployment and the
// group's health settings; one without a deployment (or a group without
// an update block) carries neither, so older agents keep accepting it.
func TestDesiredCarriesHealthPolicy(t *testing.T) {
	j := testJob()
	tg := j.TaskGroups[0]
	tg.Update = &jobspec.UpdateStrategy{MaxParallel: 1, HealthCheck: "task_states", MinHealthyTime: 3 * time.Second, HealthyDeadline: time.Minute}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j, DeploymentID: "d1"}
	da := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]
	want := protocol.HealthPolicy{Mode: "task_states", MinHealthyMs: 3000, DeadlineMs: 60000}
	if da.DeploymentID != "d1" || da.Health == nil || *da.Health != want {
		t.Fatalf("deployment %q health %+v, want d1 %+v", da.DeploymentID, da.Health, want)
	}

	tg.Update = &jobspec.UpdateStrategy{MaxParallel: 1}
	da = Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]
	if want := (protocol.HealthPolicy{Mode: "checks", DeadlineMs: 300000}); da.Health == nil || *da.Health != want {
		t.Errorf("health %+v, want Nomad's defaults %+v", da.Health, want)
	}

	a.DeploymentID = ""
	if da := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]; da.Health != nil || da.DeploymentID != "" {
		t.Errorf("an alloc outside a deployment carries %q %+v", da.DeploymentID, da.Health)
	}
	a.DeploymentID, tg.Update = "d1", nil
	if da := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]; da.Health != nil || da.DeploymentID != "" {
		t.Errorf("a group without an update block carries %q %+v", da.DeploymentID, da.Health)
	}
}

func TestDesiredCarriesCheckRestart(t *testing.T) {
	j := testJob()
	j.TaskGroups[0].Tasks[0].Services = []*jobspec.Service{{Name: "web", Checks: []*jobspec.Check{
		{Type: "http", Path: "/", Interval: time.Second, Timeout: time.Second, CheckRestart: &jobspec.CheckRestart{Limit: 3, Grace: 5 * time.Second, IgnoreWarnings: true}},
		{Type: "tcp", Interval: time.Second, Timeout: time.Second},
	}}}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	cs := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0].Tasks[0].Services[0].Checks
	if c := cs[0]; c.RestartLimit != 3 || c.RestartGraceMs != 5000 || !c.RestartIgnoreWarnings {
		t.Errorf("check with check_restart = %+v", c)
	}
	if c := cs[1]; c.RestartLimit != 0 || c.RestartGraceMs != 0 {
		t.Errorf("check without check_restart = %+v", c)
	}
}

// The size bound of a group's allocation covers one a deployment placed
// (its deployment id and health policy included).
func TestAllocBoundCoversDeploymentHealth(t *testing.T) {
	j := testJob()
	j.Namespace = "default"
	tg := j.TaskGroups[0]
	tg.Update = &jobspec.UpdateStrategy{MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute}
	bound, err := AllocBound(j, tg)
	if err != nil {
		t.Fatal(err)
	}
	a := &structs.Allocation{ID: structs.GenerateID(), Namespace: "default", JobID: j.ID, JobVersion: 1 << 40, Job: j, TaskGroup: tg.Name,
		Name: "web.g[0]", DesiredStatus: protocol.DesiredRun, DeploymentID: structs.GenerateID()}
	b, err := protocol.Encode(Alloc(a, tg, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > bound {
		t.Fatalf("an allocation of a deployment is %d bytes, bound says at most %d", len(b), bound)
	}
}
