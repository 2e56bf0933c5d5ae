package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// docs/cli.md "job history": -p shows, for each version, what changed
// since the one before it, keyed by group and task name.
func TestJobHistoryDiff(t *testing.T) {
	c := newCluster(t)
	c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL))
	v1 := strings.Replace(webHCL, "count = 2", "count = 5", 1)
	v1 = strings.Replace(v1, `      resources {`, "      env {\n        MODE = \"fast\"\n      }\n      resources {", 1)
	v1 = strings.Replace(v1, `args    = ["1000"]`, `args    = ["2000"]`, 1)
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", v1)); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := c.run(t, "job", "history", "-p", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `Version     = 1
Stable      = false
Stop        = false
Submit Date = <none>
Diff        = since version 0
  ~ task_groups["web"].count: 2 => 5
  ~ task_groups["web"].tasks["server"].config.args: ["1000"] => ["2000"]
  + task_groups["web"].tasks["server"].env.MODE: "fast"

Version     = 0
Stable      = false
Stop        = false
Submit Date = <none>
Diff        = <oldest kept version: nothing to compare with>
`
	if out != want {
		t.Errorf("job history -p:\n%s\nwant:\n%s", out, want)
	}
	code, out, _ = c.run(t, "job", "history", "-version", "0", "web")
	if code != 0 || strings.Contains(out, "Version     = 1") || !strings.Contains(out, "Version     = 0") {
		t.Errorf("-version 0: exit %d\n%s", code, out)
	}
	code, _, errOut = c.run(t, "job", "history", "-version", "7", "web")
	if code != 1 || !strings.Contains(errOut, `job "web" has no version 7`) {
		t.Errorf("-version 7: exit %d %q", code, errOut)
	}
}

func TestDiffJobsRemovedAndAdded(t *testing.T) {
	job := func(tasks ...string) *jobspec.Job {
		j := &jobspec.Job{ID: "web", Type: "service", Meta: map[string]string{"owner": "ops"}, TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 1}}}
		for _, n := range tasks {
			j.TaskGroups[0].Tasks = append(j.TaskGroups[0].Tasks, &jobspec.Task{Name: n, Driver: "exec"})
		}
		return j
	}
	a, b := job("api", "db"), job("api", "cache")
	b.Meta = nil
	a.TaskGroups[0].Update = &jobspec.UpdateStrategy{MaxParallel: 1, MinHealthyTime: 10 * time.Second}
	b.TaskGroups[0].Update = &jobspec.UpdateStrategy{MaxParallel: 1, MinHealthyTime: 90 * time.Second}
	b.Version, b.SubmitTime, b.Stable = 4, 99, true // central's fields are no change
	got := strings.Join(diffJobs(a, b), "\n")
	want := `- meta.owner: "ops"
~ task_groups["g"].update.min_healthy_time: 10s => 1m30s
- task_groups["g"].tasks["db"].name: "db"
- task_groups["g"].tasks["db"].driver: "exec"
+ task_groups["g"].tasks["cache"].name: "cache"
+ task_groups["g"].tasks["cache"].driver: "exec"`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := diffJobs(a, a); len(d) != 0 {
		t.Errorf("a job differs from itself: %v", d)
	}
}

// docs/cli.md "job revert": the revert registers the old version again
// and is monitored like a submit; bad versions are refused with the API's
// reason.
func TestJobRevert(t *testing.T) {
	c := newCluster(t)
	c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webNoRolloutHCL))
	c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", strings.Replace(webNoRolloutHCL, "count = 2", "count = 5", 1)))

	code, out, errOut := c.run(t, "job", "revert", "-detach", "we", "0") // a prefix
	if code != 0 || !strings.Contains(out, `Job "web" reverted to version 0`) {
		t.Fatalf("revert -detach: exit %d\n%s%s", code, out, errOut)
	}
	if j := c.b.JobByID("default", "web"); j.Version != 2 || j.TaskGroups[0].Count != 2 {
		t.Errorf("after revert: version %d count %d, want version 2 count 2", j.Version, j.TaskGroups[0].Count)
	}

	// Monitored: the job has max_parallel = 0 (no deployment), so the eval
	// and allocations are followed as job submit does.
	c.b.OnSubmit = func(_ *jobspecJob, ev *structs.Evaluation) {
		c.b.UpdateEval(ev.ID, func(e *structs.Evaluation) { e.Status = "complete" })
	}
	code, out, errOut = c.run(t, "job", "revert", "web", "1")
	if code != 0 || !strings.Contains(out, `finished with status "complete"`) {
		t.Errorf("revert monitored: exit %d\n%s%s", code, out, errOut)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"web", "9"}, 1, "no version 9 any more (kept versions: 3, 2, 1, 0)"},
		{[]string{"web", "3"}, 1, "current version"},
		{[]string{"web", "x"}, exitUsage, `"x" is not a version number`},
		{[]string{"web"}, exitUsage, "takes [options] JOB VERSION"},
		{[]string{"nope", "0"}, 1, `No job(s) with prefix or id "nope" found`},
	} {
		code, _, errOut := c.run(t, append([]string{"job", "revert", "-detach"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("revert %v: exit %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
