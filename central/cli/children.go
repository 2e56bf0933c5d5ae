package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tether-edge/tether/jobspec"
)

// typeString is a job's type as Nomad's CLI shows it: a periodic or
// parameterized parent's with "/periodic" or "/parameterized" added.
func typeString(j *jobspec.Job) string {
	t := j.Type
	if j.ParentID == "" && j.Periodic != nil {
		t += "/periodic"
	}
	if j.ParentID == "" && j.Parameterized != nil {
		t += "/parameterized"
	}
	return t
}

// jobChildren returns the jobs launched from parent (dispatched or
// periodic children, whose IDs are "<parent>/..."), oldest first.
func (e *env) jobChildren(ctx context.Context, parent *jobspec.Job) ([]jobListEntry, error) {
	q := e.nsQuery()
	q.Set("prefix", parent.ID+"/")
	var list []jobListEntry
	if _, _, err := e.get(ctx, "/v1/jobs", q, &list); err != nil {
		return nil, err
	}
	out := list[:0]
	for _, j := range list {
		if j.ParentID == parent.ID {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].SubmitTime < out[b].SubmitTime })
	return out, nil
}

// parentStatus prints what `job status` shows of a periodic or
// parameterized parent, which has no allocations of its own: its block,
// a summary of its children by status and the children themselves.
func (e *env) parentStatus(ctx context.Context, job *jobspec.Job) int {
	if job.Periodic != nil {
		e.periodicBlock(job) // periodic.go
	}
	if p := job.Parameterized; p != nil {
		fmt.Fprintln(e.stdout, "\nParameterized Job")
		kv(e.stdout, [][2]string{
			{"Payload", p.Payload},
			{"Required Metadata", strings.Join(p.MetaRequired, ",")},
			{"Optional Metadata", strings.Join(p.MetaOptional, ",")},
		})
	}
	children, err := e.jobChildren(ctx, job)
	if err != nil {
		return e.fail("querying child jobs", err)
	}
	title, listTitle, none := "Children Job Summary", "Previously Launched Jobs", "No instances of periodic job found"
	if job.Parameterized != nil {
		title, listTitle, none = "Parameterized Job Summary", "Dispatched Jobs", "No dispatched instances of parameterized job found"
	}
	count := map[string]int{}
	for _, c := range children {
		count[c.Status]++
	}
	fmt.Fprintf(e.stdout, "\n%s\n", title)
	table(e.stdout, [][]string{{"Pending", "Running", "Dead"},
		{itoa(count[jobspec.JobStatusPending]), itoa(count[jobspec.JobStatusRunning]), itoa(count[jobspec.JobStatusDead])}})
	fmt.Fprintf(e.stdout, "\n%s\n", listTitle)
	if len(children) == 0 {
		fmt.Fprintln(e.stdout, none)
		return exitOK
	}
	rows := [][]string{{"ID", "Status"}}
	for _, c := range children {
		rows = append(rows, []string{c.ID, c.Status})
	}
	table(e.stdout, rows)
	return exitOK
}
