package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/structs"
)

// Exit codes of job plan, as Nomad's.
const (
	exitPlanNoChange = 0   // no allocation would be created or destroyed
	exitPlanChanges  = 1   // some would, or some could not be placed
	exitPlanError    = 255 // the plan could not be made
)

func planVerbs() map[string]verb {
	return map[string]verb{
		"job plan": {"Dry-run a job file against the cluster: what would be placed, stopped or updated where", "[options] FILE", (*env).jobPlan},
	}
}

// jobPlan is `central job plan FILE`: the scheduler's dry run of the job
// file against the cluster's current state (POST /v1/job/<id>/plan).
// Nothing is written. Exit 0: no allocation created or destroyed (the job
// is unchanged, or only in-place updates follow); 1: some would be, or
// could not be placed; 255: an error.
func (e *env) jobPlan(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	e.readFlags(fs)
	diff := fs.Bool("diff", true, "show the differences between the running version and the job file")
	jf := e.jobFileFlags(fs) // jobfile.go: -var, -var-file
	if code, ok := e.parse(fs, args); !ok {
		if code == exitOK {
			return exitOK // -h
		}
		return exitPlanError
	}
	if !e.nargs(fs, 1, 1) {
		return exitPlanError
	}
	path := fs.Arg(0)
	file, _ := e.loadJobFile(path, jf)
	if file == nil {
		return exitPlanError
	}
	q := e.nsQuery() // the diff is always asked for: an unchanged job exits 0 (Result.Changes)
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(file.job.ID)+"/plan", q, file.body)
	if err != nil {
		e.fail("planning job", err)
		return exitPlanError
	}
	var res jobplan.Result
	if err := json.Unmarshal(b, &res); err != nil || res.Annotations == nil {
		e.fail("planning job", fmt.Errorf("decoding response: %v", err))
		return exitPlanError
	}
	code := exitPlanNoChange
	if res.Changes() {
		code = exitPlanChanges
	}
	if e.json {
		e.printJSON(b)
		return code
	}
	if *diff && res.Diff != nil {
		writeDiff(e.stdout, res.Diff, res.Annotations.DesiredTGUpdates, e.verbose)
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintln(e.stdout, "Scheduler dry-run:")
	if len(res.FailedTGAllocs) == 0 {
		fmt.Fprintln(e.stdout, "- All tasks successfully allocated.")
	} else {
		fmt.Fprintln(e.stdout, "- WARNING: Failed to place all allocations.")
		placementFailures(e.stdout, "  ", &structs.Evaluation{FailedTGAllocs: res.FailedTGAllocs, QueuedAllocations: res.QueuedAllocations})
	}
	if len(res.Allocations) > 0 {
		fmt.Fprintln(e.stdout, "\nAllocations")
		rows := [][]string{{"Task Group", "Name", "Change", "Node"}}
		for _, a := range res.Allocations {
			node := a.NodeName
			if a.FromNodeName != "" && a.FromNodeName != a.NodeName {
				node = fmt.Sprintf("%s (from %s)", a.NodeName, a.FromNodeName)
			}
			change := actionWords[a.Action]
			if a.Action == jobplan.ActionStop && a.Description != "" {
				change += ": " + a.Description
			}
			rows = append(rows, []string{a.Group, a.Name, change, node})
		}
		table(e.stdout, rows)
	}
	if res.Warnings != "" {
		fmt.Fprintf(e.stdout, "\nJob Warnings:\n%s\n", res.Warnings)
	}
	fmt.Fprintf(e.stdout, "\nJob Modify Index: %d\n", res.JobModifyIndex)
	fmt.Fprintf(e.stdout, "To submit the job with version verification run:\n\ncentral job run -check-index %d %s\n\n", res.JobModifyIndex, path)
	fmt.Fprintln(e.stdout, "When running the job with the check-index flag, the job will only be run if the\n"+
		"job modify index given matches the server-side version. If the index has\n"+
		"changed, another user has modified the job and the plan's results are\n"+
		"potentially invalid.")
	return code
}

// writeDiff prints a job diff as `nomad job plan` does: "+" added, "-"
// deleted, "+/-" edited; groups carry what the plan does with their
// allocations, tasks what their change forces. The fields of a job, group
// or task that is added or deleted whole are shown with -verbose only.
func writeDiff(w io.Writer, d *jobplan.Diff, updates map[string]*jobplan.GroupUpdates, verbose bool) {
	whole := func(d *jobplan.Diff) bool {
		return !verbose && (d.Type == jobplan.DiffAdded || d.Type == jobplan.DiffDeleted)
	}
	fmt.Fprintf(w, "%sJob: %q\n", marker(d.Type), d.Name)
	if whole(d) {
		d = &jobplan.Diff{TaskGroups: d.TaskGroups}
	}
	writeFields(w, "", d)
	for _, g := range d.TaskGroups {
		fmt.Fprintf(w, "%sTask Group: %q", marker(g.Type), g.Name)
		if u := updates[g.Name]; u != nil {
			if s := updateSummary(u); s != "" {
				fmt.Fprintf(w, " (%s)", s)
			}
		}
		fmt.Fprintln(w)
		if !whole(g) {
			writeFields(w, "  ", g)
		}
		for _, t := range g.Tasks {
			if t.Type == jobplan.DiffNone {
				continue
			}
			fmt.Fprintf(w, "  %sTask: %q", marker(t.Type), t.Name)
			if len(t.Annotations) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(t.Annotations, ", "))
			}
			fmt.Fprintln(w)
			if !whole(t) {
				writeFields(w, "    ", t)
			}
		}
	}
}

// writeFields prints d's fields, then its blocks, indented.
func writeFields(w io.Writer, indent string, d *jobplan.Diff) {
	for _, f := range d.Fields {
		if f.Name == "name" || f.Name == "id" {
			continue // the header shows it
		}
		switch f.Type {
		case jobplan.DiffAdded:
			fmt.Fprintf(w, "%s+ %s: %q\n", indent, f.Name, f.New)
		case jobplan.DiffDeleted:
			fmt.Fprintf(w, "%s- %s: %q\n", indent, f.Name, f.Old)
		default:
			fmt.Fprintf(w, "%s+/- %s: %q => %q\n", indent, f.Name, f.Old, f.New)
		}
	}
	for _, o := range d.Objects {
		fmt.Fprintf(w, "%s%s%s {\n", indent, marker(o.Type), o.Name)
		writeFields(w, indent+"  ", o)
		fmt.Fprintf(w, "%s}\n", indent)
	}
}

// actionWords name a planned allocation's change as the group summary
// does.
var actionWords = map[string]string{
	jobplan.ActionPlace: "place", jobplan.ActionStop: "stop", jobplan.ActionMigrate: "migrate",
	jobplan.ActionInPlace: "in-place update", jobplan.ActionDestructive: "create/destroy update", jobplan.ActionCanary: "canary",
}

func marker(typ string) string {
	switch typ {
	case jobplan.DiffAdded:
		return "+ "
	case jobplan.DiffDeleted:
		return "- "
	case jobplan.DiffEdited:
		return "+/- "
	}
	return ""
}

// updateSummary words a group's counts as Nomad's plan does: "1 create,
// 2 in-place update, 1 ignore".
func updateSummary(u *jobplan.GroupUpdates) string {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{
		{u.Place, "create"}, {u.Stop, "destroy"}, {u.Migrate, "migrate"}, {u.InPlaceUpdate, "in-place update"},
		{u.DestructiveUpdate, "create/destroy update"}, {u.Canary, "canary"}, {u.Ignore, "ignore"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	return strings.Join(parts, ", ")
}

// checkIndexFlag adds job run's -check-index N: submit only if the job's
// modify index is still N, as `job plan` printed it (0: only if the job
// does not exist yet). The value is "" when the flag is not given.
func checkIndexFlag(fs *flag.FlagSet) *string {
	v := new(string)
	fs.Func("check-index", "submit only if the job modify index is still this one, as job plan printed it (0: only a new job)", func(s string) error {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return fmt.Errorf("want the job modify index job plan printed (a number): %v", err)
		}
		*v = s
		return nil
	})
	return v
}
