package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// reschedulePairs are the reschedule lines of `alloc status`, as Nomad's:
// the allocation this one replaced and the one that replaced it, how many
// reschedules its lineage had, and, while it waits for a delayed
// reschedule, when that is due.
func (e *env) reschedulePairs(ctx context.Context, a *structs.Allocation) [][2]string {
	var out [][2]string
	if a.PreviousAllocation != "" {
		out = append(out, [2]string{"Previous Allocation", e.short(a.PreviousAllocation)})
	}
	if a.NextAllocation != "" {
		out = append(out, [2]string{"Next Allocation", e.short(a.NextAllocation)})
	}
	if n := len(a.RescheduleTracker); n > 0 {
		out = append(out, [2]string{"Reschedule Attempts", strconv.Itoa(n)})
	}
	if a.FollowupEvalID != "" && a.NextAllocation == "" {
		var ev structs.Evaluation
		due := "unknown (evaluation " + e.short(a.FollowupEvalID) + " not found)"
		if _, _, err := e.get(ctx, "/v1/evaluation/"+url.PathEscape(a.FollowupEvalID), nil, &ev); err == nil {
			due = e.until(ev.WaitUntil)
			if ev.Status != structs.EvalPending {
				due = "evaluation " + e.short(ev.ID) + " is " + ev.Status
			}
		}
		out = append(out, [2]string{"Reschedule Eligibility", due}, [2]string{"Follow-up Evaluation", e.short(a.FollowupEvalID)})
	}
	return out
}

// until prints a unix-ns time relative to now: "in 25s", or "now".
func (e *env) until(ns int64) string {
	d := time.Unix(0, ns).Sub(e.now()).Round(time.Second)
	if d <= 0 {
		return "now"
	}
	return "in " + d.String()
}

// rescheduleEvents prints the lineage's earlier reschedules, newest first.
func (e *env) rescheduleEvents(w io.Writer, a *structs.Allocation) {
	if len(a.RescheduleTracker) == 0 {
		return
	}
	fmt.Fprintln(w, "\nReschedule Events:")
	rows := [][]string{{"Time", "Previous Allocation", "Previous Node", "Delay"}}
	for i := len(a.RescheduleTracker) - 1; i >= 0; i-- {
		ev := a.RescheduleTracker[i]
		rows = append(rows, []string{formatUnixNano(ev.RescheduleTime), e.short(ev.PrevAllocID), e.short(ev.PrevNodeID), time.Duration(ev.Delay).String()})
	}
	table(w, rows)
}

// waitUntilPairs is the `eval status` line of a delayed follow-up.
func (e *env) waitUntilPairs(ev *structs.Evaluation) [][2]string {
	if ev.WaitUntil == 0 {
		return nil
	}
	return [][2]string{{"Wait Until", formatUnixNano(ev.WaitUntil) + " (" + e.until(ev.WaitUntil) + ")"}}
}
