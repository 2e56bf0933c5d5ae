package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// monitorWait is the ?wait of the monitor's blocking queries.
const monitorWait = 30 * time.Second

// snapshot is one answer of a blocking query.
type snapshot struct {
	body []byte
	err  error
}

// watch runs blocking queries on path until ctx is done, sending every
// answer on out. It stops after sending an error.
func (e *env) watch(ctx context.Context, path string, q url.Values, out chan<- snapshot) {
	var index uint64
	for {
		b, idx, err := e.get(ctx, path, blockingQuery(q, index, monitorWait), nil)
		select {
		case out <- snapshot{body: b, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		index = idx
	}
}

// monitorState is what the monitor has printed so far. Only the monitor
// loop touches it.
type monitorState struct {
	evalID     string
	stopping   bool // job stop: wait for allocations to stop
	version    uint64
	jobType    string
	eval       *structs.Evaluation
	allocs     []*structs.Allocation
	haveAllocs bool
	status     map[string]string // alloc ID → last printed client status
	// evalOnly: the evaluation's end is the monitor's (a deployment
	// follows, monitored by monitorDeployment).
	evalOnly bool
}

// monitor follows an evaluation like `nomad job run`: it prints the
// allocations it creates and their status changes, and returns when they
// are all running (or stopped, when stopping), when placement failed
// (exit 2), or on error or timeout (exit 1).
func (e *env) monitor(evalID string, timeout time.Duration, stopping bool) int {
	code, _ := e.monitorEval(evalID, timeout, stopping, nil)
	return code
}

// monitorEval is monitor, which also returns the evaluated job (nil when
// stopping or on error). When untilEval says so for the job, it returns
// once the evaluation is complete and placed everything, without waiting
// for the allocations.
func (e *env) monitorEval(evalID string, timeout time.Duration, stopping bool, untilEval func(*jobspec.Job) bool) (int, *jobspec.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fmt.Fprintf(e.stdout, "==> %s: Monitoring evaluation %q\n", e.stamp(), shortID(evalID))

	var ev structs.Evaluation
	if _, _, err := e.get(ctx, "/v1/evaluation/"+url.PathEscape(evalID), nil, &ev); err != nil {
		return e.fail("monitoring evaluation", err), nil
	}
	fmt.Fprintf(e.stdout, "    %s: Evaluation triggered by job %q\n", e.stamp(), ev.JobID)
	st := &monitorState{evalID: evalID, stopping: stopping, eval: &ev, status: map[string]string{}}
	q := url.Values{}
	if ev.Namespace != "" && ev.Namespace != "default" {
		q.Set("namespace", ev.Namespace)
	}
	jobPath := "/v1/job/" + url.PathEscape(ev.JobID)
	var job *jobspec.Job
	if !stopping {
		job = &jobspec.Job{}
		if _, _, err := e.get(ctx, jobPath, q, job); err != nil {
			return e.fail("monitoring evaluation", err), nil
		}
		st.version, st.jobType = job.Version, job.Type
		st.evalOnly = untilEval != nil && untilEval(job)
	}

	evals, allocs := make(chan snapshot), make(chan snapshot)
	go e.watch(ctx, "/v1/evaluation/"+url.PathEscape(evalID), nil, evals)
	go e.watch(ctx, jobPath+"/allocations", q, allocs)
	for {
		var snap snapshot
		isEval := false
		select {
		case snap = <-evals:
			isEval = true
		case snap = <-allocs:
		case <-ctx.Done():
			fmt.Fprintf(e.stderr, "Error: timed out after %v monitoring evaluation %q (status %q); it continues in the background: see central job status %s\n",
				timeout, shortID(evalID), st.eval.Status, st.eval.JobID)
			return exitError, job
		}
		if snap.err != nil {
			if errors.Is(snap.err, context.DeadlineExceeded) {
				continue // reported by the ctx.Done case
			}
			return e.fail("monitoring evaluation", snap.err), job
		}
		var err error
		if isEval {
			err = st.updateEval(e, snap.body)
		} else {
			err = st.updateAllocs(e, snap.body)
		}
		if err != nil {
			return e.fail("monitoring evaluation", err), job
		}
		if code, done := st.done(e); done {
			return code, job
		}
	}
}

func (e *env) stamp() string { return e.now().Format(timeFormat) }

func (st *monitorState) updateEval(e *env, body []byte) error {
	var ev structs.Evaluation
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("decoding evaluation: %w", err)
	}
	if ev.Status != st.eval.Status {
		fmt.Fprintf(e.stdout, "    %s: Evaluation status changed: %q -> %q\n", e.stamp(), st.eval.Status, ev.Status)
	}
	st.eval = &ev
	return nil
}

func (st *monitorState) updateAllocs(e *env, body []byte) error {
	var allocs []*structs.Allocation
	if err := json.Unmarshal(body, &allocs); err != nil {
		return fmt.Errorf("decoding allocations: %w", err)
	}
	// Oldest first, so output follows creation order.
	sort.SliceStable(allocs, func(i, k int) bool {
		if allocs[i].CreateIndex != allocs[k].CreateIndex {
			return allocs[i].CreateIndex < allocs[k].CreateIndex
		}
		return allocs[i].Name < allocs[k].Name
	})
	for _, a := range allocs {
		prev, seen := st.status[a.ID]
		switch {
		case !seen && a.EvalID == st.evalID:
			fmt.Fprintf(e.stdout, "    %s: Allocation %q created: node %q, group %q\n", e.stamp(), shortID(a.ID), shortID(a.NodeID), a.TaskGroup)
			prev = "pending"
		case !seen && !st.haveAllocs:
			prev = a.ClientStatus // there before we started: report changes only
		case !seen:
			prev = "pending"
		}
		if a.ClientStatus != prev {
			desc := ""
			if a.ClientDescription != "" {
				desc = fmt.Sprintf(" (%s)", a.ClientDescription)
			}
			fmt.Fprintf(e.stdout, "    %s: Allocation %q status changed: %q -> %q%s\n", e.stamp(), shortID(a.ID), prev, a.ClientStatus, desc)
		}
		st.status[a.ID] = a.ClientStatus
	}
	st.allocs, st.haveAllocs = allocs, true
	return nil
}

// done reports whether monitoring is over, and the exit code.
func (st *monitorState) done(e *env) (int, bool) {
	ev := st.eval
	switch ev.Status {
	case structs.EvalFailed, "canceled", "cancelled":
		fmt.Fprintf(e.stdout, "==> %s: Evaluation %q finished with status %q", e.stamp(), shortID(ev.ID), ev.Status)
		if ev.StatusDescription != "" {
			fmt.Fprintf(e.stdout, ": %s", ev.StatusDescription)
		}
		fmt.Fprintln(e.stdout)
		return exitError, true
	case structs.EvalComplete, structs.EvalBlocked:
	default:
		return 0, false
	}
	if len(ev.FailedTGAllocs) > 0 {
		fmt.Fprintf(e.stdout, "==> %s: Evaluation %q finished with status %q but failed to place all allocations:\n", e.stamp(), shortID(ev.ID), ev.Status)
		placementFailures(e.stdout, "    ", ev)
		return exitPlacement, true
	}
	if st.evalOnly && ev.Status == structs.EvalComplete && st.placedSeen() {
		fmt.Fprintf(e.stdout, "==> %s: Evaluation %q finished with status %q\n", e.stamp(), shortID(ev.ID), ev.Status)
		return exitOK, true
	}
	if !st.haveAllocs || !st.settled() {
		return 0, false
	}
	fmt.Fprintf(e.stdout, "==> %s: Evaluation %q finished with status %q\n", e.stamp(), shortID(ev.ID), ev.Status)
	return exitOK, true
}

// placedSeen reports whether every allocation the evaluation placed is
// visible (its "created" line printed, as Nomad's monitor prints them
// before following the deployment).
func (st *monitorState) placedSeen() bool {
	if !st.haveAllocs {
		return false
	}
	for _, id := range st.eval.PlacedAllocs {
		if !slices.ContainsFunc(st.allocs, func(a *structs.Allocation) bool { return a.ID == id }) {
			return false
		}
	}
	return true
}

// settled reports whether the allocations reached what the evaluation
// asked for: every placed one visible, and every current one running (or
// finished, for batch jobs), or, when stopping, all of them stopped.
func (st *monitorState) settled() bool {
	byID := make(map[string]*structs.Allocation, len(st.allocs))
	for _, a := range st.allocs {
		byID[a.ID] = a
	}
	for _, id := range st.eval.PlacedAllocs {
		if byID[id] == nil {
			return false
		}
	}
	for _, a := range st.allocs {
		if st.stopping {
			if !a.Terminal() {
				return false
			}
			continue
		}
		if a.JobVersion != st.version || a.DesiredStatus != "run" || a.NextAllocation != "" {
			continue
		}
		switch {
		case jobspec.RunsToCompletion(st.jobType) && (a.ClientStatus == "complete" || a.ClientStatus == "failed"):
		case a.ClientStatus == "running":
		default:
			return false
		}
	}
	return true
}
