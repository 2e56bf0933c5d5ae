package jobplan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/jobspec"
)

// flat renders a diff as one line per change: "group/task/block: type name old→new".
func flat(d *jobplan.Diff) []string {
	var out []string
	var walk func(prefix string, d *jobplan.Diff)
	walk = func(prefix string, d *jobplan.Diff) {
		if d.Type == jobplan.DiffNone {
			return
		}
		p := prefix + d.Name
		out = append(out, p+": "+d.Type)
		for _, f := range d.Fields {
			out = append(out, p+": "+f.Type+" "+f.Name+" "+f.Old+"→"+f.New)
		}
		for _, sub := range append(append(append([]*jobplan.Diff{}, d.Objects...), d.TaskGroups...), d.Tasks...) {
			walk(p+"/", sub)
		}
	}
	walk("", d)
	return out
}

func TestJobDiff(t *testing.T) {
	old := webJob(2, "api", "db")
	old.Meta = map[string]string{"team": "edge"}
	old.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "arm64"}}
	old.TaskGroups[0].Services = []*jobspec.Service{{Name: "api", PortLabel: "http", Checks: []*jobspec.Check{{Name: "alive", Type: "tcp", Interval: 10 * time.Second}}}}
	if d := jobplan.JobDiff(old, old); d.Type != jobplan.DiffNone || len(flat(d)) != 0 {
		t.Fatalf("a job against itself: %v", flat(d))
	}

	next := clone(old)
	next.Datacenters = []string{"dc1", "dc2"}
	next.Meta = map[string]string{"team": "edge", "tier": "gold"}
	next.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}}
	next.TaskGroups[0].Services = []*jobspec.Service{{Name: "api", PortLabel: "http", Checks: []*jobspec.Check{{Name: "alive", Type: "tcp", Interval: 30 * time.Second}}}}
	next.TaskGroups[0].Tasks[0].Config["args"] = []any{"-v"}
	next.TaskGroups = next.TaskGroups[:1]
	next.TaskGroups = append(next.TaskGroups, &jobspec.TaskGroup{Name: "cache", Count: 1, Tasks: []*jobspec.Task{{Name: "redis", Driver: "exec"}}})

	got := strings.Join(flat(jobplan.JobDiff(old, next)), "\n")
	for _, want := range []string{
		`web: Edited datacenters ["dc1"]→["dc1","dc2"]`,
		"web: Added meta[tier] →gold",
		"web/api: Edited",
		"web/api/constraints: Deleted",
		"web/api/constraints: Deleted r_target arm64→",
		"web/api/constraints: Added r_target →amd64",
		`web/api/services "api"/checks "alive": Edited interval 10s→30s`,
		`web/api/server: Added config[args] →["-v"]`,
		"web/db: Deleted",
		"web/cache: Added",
		"web/cache/redis: Added",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "version") || strings.Contains(got, "modify_index") {
		t.Errorf("diff shows fields central sets:\n%s", got)
	}
}
