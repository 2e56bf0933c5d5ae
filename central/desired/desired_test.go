package desired

import (
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestDesiredCarriesTemplateSourceAndSplay(t *testing.T) {
	j := testJob()
	j.TaskGroups[0].Tasks[0].Templates = []*jobspec.Template{
		{Source: "local/up.tpl", Destination: "local/up.conf", ChangeMode: "restart", Splay: 2500 * time.Millisecond},
	}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	d := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0)
	if len(d.Allocs) != 1 {
		t.Fatalf("desired: %+v", d)
	}
	tm := d.Allocs[0].Tasks[0].Templates[0]
	if tm.Source != "local/up.tpl" || tm.SplayMs != 2500 || tm.Destination != "local/up.conf" {
		t.Errorf("template = %+v", tm)
	}
}

// A task's logs block reaches the agent; a task without one sends nothing,
// so an agent older than the field still accepts its desired state.
func TestDesiredCarriesLogs(t *testing.T) {
	j := testJob()
	j.TaskGroups[0].Tasks[0].Logs = &jobspec.LogConfig{MaxFiles: 2, MaxFileSizeMB: 1, Disabled: true}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	d := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0)
	if l := d.Allocs[0].Tasks[0].Logs; l == nil || l.MaxFiles != 2 || l.MaxFileSizeMB != 1 || !l.Disabled {
		t.Errorf("logs = %+v, want 2 files of 1 MB, disabled", l)
	}
	j.TaskGroups[0].Tasks[0].Logs = nil
	if l := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0].Tasks[0].Logs; l != nil {
		t.Errorf("logs = %+v for a task without a logs block, want none", l)
	}
}
