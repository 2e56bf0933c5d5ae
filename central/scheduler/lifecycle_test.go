package scheduler

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestGroupNeedCountsLifecyclePhases(t *testing.T) {
	task := func(hook string, sidecar bool, cpu, mem int) *jobspec.Task {
		tk := &jobspec.Task{Name: hook, Driver: "exec", Resources: &jobspec.Resources{CPU: cpu, MemoryMB: mem}}
		if hook != "" {
			tk.Lifecycle = &jobspec.Lifecycle{Hook: hook, Sidecar: sidecar}
		}
		return tk
	}
	tests := []struct {
		name  string
		tasks []*jobspec.Task
		want  structs.Resources
	}{
		{"main tasks add up", []*jobspec.Task{task("", false, 100, 64), task("", false, 200, 32)}, structs.Resources{CPU: 300, MemoryMB: 96}},
		{"ephemeral prestart runs before main", []*jobspec.Task{task("prestart", false, 500, 16), task("", false, 100, 256)},
			structs.Resources{CPU: 500, MemoryMB: 256}},
		{"sidecar runs beside everything", []*jobspec.Task{task("prestart", true, 50, 32), task("prestart", false, 500, 16), task("", false, 100, 256)},
			structs.Resources{CPU: 550, MemoryMB: 288}},
		{"poststart runs beside main", []*jobspec.Task{task("poststart", false, 100, 64), task("", false, 100, 256)},
			structs.Resources{CPU: 200, MemoryMB: 320}},
		{"poststop runs after", []*jobspec.Task{task("", false, 100, 256), task("poststop", false, 300, 128)},
			structs.Resources{CPU: 300, MemoryMB: 256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupNeed(&jobspec.TaskGroup{Name: "g", Tasks: tt.tasks}); got != tt.want {
				t.Fatalf("need %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A group whose prestart and main tasks each fit a node, but not both at
// once, is placed there (they never run together), as Nomad places it.
func TestPrestartAndMainNeedNotAddUp(t *testing.T) {
	st := newState()
	st.addNode(node("small", func(n *structs.Node) { n.Resources = structs.Resources{CPU: 1000, MemoryMB: 300} }))
	j := job("web", "service", 1, func(j *jobspec.Job) {
		g := j.TaskGroups[0]
		g.Tasks[0].Resources = &jobspec.Resources{CPU: 500, MemoryMB: 256}
		g.Tasks = append(g.Tasks, &jobspec.Task{Name: "init", Driver: "exec",
			Lifecycle: &jobspec.Lifecycle{Hook: "prestart"}, Resources: &jobspec.Resources{CPU: 500, MemoryMB: 256}})
	})
	st.addJob(j)
	p := mustCompute(t, st, eval(j), opts())
	if len(p.Place) != 1 || p.Place[0].NodeID != "small" {
		t.Fatalf("placed %v, want one alloc on small", nodesOf(p))
	}
	if r := p.Place[0].Resources; r.MemoryMB != 256 || r.CPU != 500 {
		t.Fatalf("alloc reserves %+v, want cpu 500 memory 256", r)
	}
}
