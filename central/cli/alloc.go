package cli

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"github.com/tether-edge/tether/central/structs"
)

func (e *env) allocStatus(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	stats := fs.Bool("stats", false, "show each task's CPU and memory, measured by its agent now (with -json: GET /v1/client/allocation/<id>/stats)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var a structs.Allocation
	b, _, err := e.get(ctx, "/v1/allocation/"+url.PathEscape(fs.Arg(0)), nil, &a)
	if err != nil {
		return e.fail("querying allocation", err)
	}
	if e.json && *stats {
		return e.allocStats(ctx, a.ID) // stats.go
	}
	if e.json {
		return e.printJSON(b)
	}
	kv(e.stdout, append([][2]string{
		{"ID", e.short(a.ID)},
		{"Eval ID", e.short(a.EvalID)},
		{"Name", a.Name},
		{"Node ID", e.short(a.NodeID)},
		{"Node Name", a.NodeName},
		{"Job ID", a.JobID},
		{"Job Version", strconv.FormatUint(a.JobVersion, 10)},
		{"Client Status", a.ClientStatus},
		{"Client Description", a.ClientDescription},
		{"Desired Status", a.DesiredStatus},
		{"Desired Description", a.DesiredDescription},
		{"Score", strconv.FormatFloat(a.Score, 'f', 3, 64)},
		{"Created", e.ago(a.CreateTime)},
		{"Modified", e.ago(a.ModifyTime)},
	}, append(e.deploymentPairs(&a), e.reschedulePairs(ctx, &a)...)...)) // deployhealth.go, reschedule.go
	e.rescheduleEvents(e.stdout, &a)
	if *stats {
		if code := e.allocStats(ctx, a.ID); code != exitOK { // stats.go
			return code
		}
	}
	if len(a.Events) > 0 {
		fmt.Fprintln(e.stdout, "\nAllocation Events:")
		evs := append([]structs.AllocEvent(nil), a.Events...)
		sort.SliceStable(evs, func(i, k int) bool { return evs[i].Time > evs[k].Time })
		rows := [][]string{{"Time", "Type", "Description"}}
		for _, ev := range evs {
			rows = append(rows, []string{formatUnixNano(ev.Time), ev.Type, ev.Message})
		}
		table(e.stdout, rows)
	}
	if len(a.Actions) > 0 { // alloc restart and signal (lifecycle.go)
		fmt.Fprintln(e.stdout, "\nOperator Actions:")
		rows := [][]string{{"Request", "Time", "Action", "Task", "By"}}
		for i := len(a.Actions) - 1; i >= 0; i-- {
			ac := a.Actions[i]
			what := ac.Kind
			if ac.Signal != "" {
				what += " " + ac.Signal
			}
			task := ac.Task
			if task == "" {
				task = "(all)"
			}
			rows = append(rows, []string{strconv.FormatUint(ac.Seq, 10), formatUnixNano(ac.Time), what, task, ac.By})
		}
		table(e.stdout, rows)
	}
	for _, name := range sortedKeys(a.TaskStates) {
		ts := a.TaskStates[name]
		if ts == nil {
			continue
		}
		fmt.Fprintf(e.stdout, "\nTask %q is %q\n", name, ts.State)
		fmt.Fprintln(e.stdout, "Recent Events:")
		evs := append([]structs.TaskEvent(nil), ts.Events...)
		sort.SliceStable(evs, func(i, k int) bool { return evs[i].Time > evs[k].Time })
		rows := [][]string{{"Time", "Type", "Description"}}
		for _, ev := range evs {
			rows = append(rows, []string{formatUnixNano(ev.Time), ev.Type, taskEventText(ev)})
		}
		table(e.stdout, rows)
	}
	return exitOK
}

func taskEventText(ev structs.TaskEvent) string {
	msg := ev.Message
	if ev.ExitCode != 0 || ev.Signal != 0 {
		if msg != "" {
			msg += "; "
		}
		msg += fmt.Sprintf("Exit Code: %d, Signal: %d", ev.ExitCode, ev.Signal)
	}
	return msg
}

func (e *env) evalStatus(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var ev structs.Evaluation
	b, _, err := e.get(ctx, "/v1/evaluation/"+url.PathEscape(fs.Arg(0)), nil, &ev)
	if err != nil {
		return e.fail("querying evaluation", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	kv(e.stdout, append([][2]string{
		{"ID", e.short(ev.ID)},
		{"Create Time", formatUnixNano(ev.CreateTime)},
		{"Modify Time", formatUnixNano(ev.ModifyTime)},
		{"Status", ev.Status},
		{"Status Description", ev.StatusDescription},
		{"Type", ev.Type},
		{"TriggeredBy", ev.TriggeredBy},
		{"Job ID", ev.JobID},
		{"Namespace", ev.Namespace},
		{"Priority", strconv.Itoa(ev.Priority)},
		{"Placement Failures", strconv.FormatBool(len(ev.FailedTGAllocs) > 0)},
	}, e.waitUntilPairs(&ev)...)) // reschedule.go
	if len(ev.FailedTGAllocs) > 0 {
		fmt.Fprintln(e.stdout, "\n==> Failed Placements")
		placementFailures(e.stdout, "", &ev)
	}
	return exitOK
}
