package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// TestAllocStatusReschedule: alloc status shows a failed alloc's pending
// reschedule, then the links between it and its replacement and the
// replacement's tracker; -json carries the same fields.
func TestAllocStatusReschedule(t *testing.T) {
	c, evalID := seedCluster(t)
	now := time.Now().UnixNano()
	failed := newAlloc("cccc0001-aaaa", evalID, 2, "failed")
	failed.NodeID = "dddd0001-node"
	failed.FollowupEvalID = "eeee0001-eval"
	c.b.PutAlloc(failed)
	c.b.PutEval(&structs.Evaluation{ID: "eeee0001-eval", Namespace: "default", JobID: "web", Type: "service",
		TriggeredBy: structs.TriggerAllocFailure, Status: structs.EvalPending, WaitUntil: now + int64(5*time.Minute)})
	code, out, _ := c.run(t, "alloc", "status", "cccc0001")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out, "Reschedule Eligibility = in ", "Follow-up Evaluation   = eeee0001\n")
	code, evOut, evErr := c.run(t, "eval", "status", "eeee0001-eval")
	if code != 0 || !strings.Contains(evOut, "Wait Until         = ") || !strings.Contains(evOut, "(in ") {
		t.Errorf("eval status of the follow-up (exit %d) lacks its wait_until:\n%s%s", code, evOut, evErr)
	}
	if strings.Contains(out, "Next Allocation") {
		t.Errorf("not replaced yet, but shows a next allocation:\n%s", out)
	}

	repl := newAlloc("cccc0002-bbbb", evalID, 2, "running")
	repl.PreviousAllocation = failed.ID
	repl.RescheduleTracker = []structs.RescheduleEvent{{RescheduleTime: now, PrevAllocID: failed.ID, PrevNodeID: failed.NodeID, Delay: int64(30 * time.Second)}}
	c.b.UpdateAlloc(failed.ID, func(a *structs.Allocation) { a.NextAllocation = repl.ID; a.DesiredStatus = "stop" })
	c.b.PutAlloc(repl)
	code, out, _ = c.run(t, "alloc", "status", "cccc0001")
	if code != 0 || !strings.Contains(out, "Next Allocation     = cccc0002\n") || strings.Contains(out, "Reschedule Eligibility") {
		t.Errorf("replaced alloc: exit %d\n%s", code, out)
	}
	code, out, _ = c.run(t, "alloc", "status", "cccc0002")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out, "Previous Allocation = cccc0001\n", "Reschedule Attempts = 1\n",
		"Reschedule Events:\nTime", "cccc0001             dddd0001       30s")
	code, out, _ = c.run(t, "alloc", "status", "-json", "cccc0002")
	if code != 0 {
		t.Fatalf("-json: exit %d", code)
	}
	assertLines(t, out, `"previous_allocation":"cccc0001-aaaa"`, `"reschedule_tracker":[{`, `"prev_node_id":"dddd0001-node"`, `"delay":30000000000`)
}
