package desired

import (
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// A task's lifecycle and own restart policy reach the agent; a task
// without a restart block sends none (the agent applies the group's).
func TestDesiredCarriesLifecycleAndTaskRestart(t *testing.T) {
	j := testJob()
	j.TaskGroups[0].Tasks[0].Lifecycle = &jobspec.Lifecycle{Hook: "prestart", Sidecar: true}
	j.TaskGroups[0].Tasks[0].Restart = &jobspec.RestartPolicy{Attempts: 1, Interval: time.Minute, Delay: time.Second, Mode: "delay"}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	pt := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0].Tasks[0]
	if pt.Lifecycle != "prestart" || !pt.Sidecar {
		t.Errorf("lifecycle %q sidecar %v", pt.Lifecycle, pt.Sidecar)
	}
	want := protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1000, Mode: "delay", OnSuccess: !jobspec.RunsToCompletion(j.Type)}
	if pt.Restart == nil || *pt.Restart != want {
		t.Errorf("restart %+v, want %+v", pt.Restart, want)
	}
	j.TaskGroups[0].Tasks[0].Restart = nil
	if r := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0].Tasks[0].Restart; r != nil {
		t.Errorf("restart %+v for a task without a restart block, want none", r)
	}
}

// Group services are registered by the first main task, not by a prestart
// task listed before it (which exits once it has run).
func TestGroupServicesGoToFirstMainTask(t *testing.T) {
	j := testJob()
	g := j.TaskGroups[0]
	g.Services = []*jobspec.Service{{Name: "web", PortLabel: "http"}}
	init := &jobspec.Task{Name: "init", Driver: "exec", Lifecycle: &jobspec.Lifecycle{Hook: "prestart"}}
	g.Tasks = append([]*jobspec.Task{init}, g.Tasks...)
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	tasks := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0].Tasks
	if len(tasks[0].Services) != 0 || len(tasks[1].Services) != 1 || tasks[1].Services[0].Name != "web" {
		t.Fatalf("services: init %+v, main %+v", tasks[0].Services, tasks[1].Services)
	}
}
