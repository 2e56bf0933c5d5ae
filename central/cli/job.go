package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// submitResponse mirrors api.SubmitResponse.
type submitResponse struct {
	EvalID         string `json:"eval_id"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	Warnings       string `json:"warnings"`
}

func (e *env) jobSubmit(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	detach := fs.Bool("detach", false, "return after submitting, without monitoring the evaluation and deployment")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to monitor the evaluation before giving up")
	deployTimeout := fs.Duration("deployment-timeout", 0, "how long to monitor the deployment before giving up (0: until it ends)")
	jf := e.jobFileFlags(fs)         // jobfile.go: -var, -var-file
	checkIndex := checkIndexFlag(fs) // plan.go
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	// Parsed here first (file() reads next to the job file), so a broken
	// file is reported without contacting central.
	file, code := e.loadJobFile(fs.Arg(0), jf)
	if file == nil {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	q := e.nsQuery()
	if *checkIndex != "" {
		q.Set("check_index", *checkIndex)
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/jobs", q, file.body)
	if err != nil {
		return e.fail("submitting job", err)
	}
	var resp submitResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("submitting job", fmt.Errorf("decoding response: %w", err))
	}
	if resp.Warnings != "" {
		fmt.Fprintf(e.stdout, "Job Warnings:\n%s\n\n", resp.Warnings)
	}
	if resp.EvalID == "" { // a periodic or parameterized parent: nothing to evaluate
		fmt.Fprintln(e.stdout, "Job registration successful")
		return exitOK
	}
	if *detach {
		fmt.Fprintf(e.stdout, "Job registration successful\nEvaluation ID: %s\n", resp.EvalID)
		return exitOK
	}
	return e.monitorRollout(resp, *timeout, *deployTimeout)
}

func (e *env) jobStop(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	detach := fs.Bool("detach", false, "return after stopping, without monitoring")
	purge := fs.Bool("purge", false, "delete the job and its history, not only stop it")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to monitor before giving up")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	q := e.nsQuery()
	if *purge {
		q.Set("purge", "true")
	}
	b, _, err := e.call(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(job.ID), q, nil)
	if err != nil {
		return e.fail("stopping job", err)
	}
	var resp submitResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("stopping job", fmt.Errorf("decoding response: %w", err))
	}
	if resp.EvalID == "" { // a periodic or parameterized parent: its children are left alone
		if !*detach {
			fmt.Fprintf(e.stdout, "Job %q stopped: no more children are launched\n", job.ID)
		}
		return exitOK
	}
	if *detach {
		fmt.Fprintln(e.stdout, resp.EvalID)
		return exitOK
	}
	return e.monitor(resp.EvalID, *timeout, true)
}

// jobListEntry mirrors api.JobListEntry.
type jobListEntry struct {
	jobspec.Job
	Summary map[string]*groupSummary `json:"summary"`
}

type groupSummary struct {
	Queued, Pending, Running, Complete, Failed, Lost, Unknown int
}

// resolveJob finds a job by ID or unique ID prefix; on failure it prints
// why and returns nil and the exit code.
func (e *env) resolveJob(ctx context.Context, id string) (*jobspec.Job, int) {
	var job jobspec.Job
	_, _, err := e.get(ctx, "/v1/job/"+url.PathEscape(id), e.nsQuery(), &job)
	if err == nil {
		return &job, exitOK
	}
	if !isNotFound(err) {
		return nil, e.fail("querying job", err)
	}
	q := e.nsQuery()
	q.Set("prefix", id)
	var list []jobListEntry
	if _, _, err := e.get(ctx, "/v1/jobs", q, &list); err != nil {
		return nil, e.fail("querying jobs", err)
	}
	switch len(list) {
	case 0:
		fmt.Fprintf(e.stderr, "No job(s) with prefix or id %q found\n", id)
		return nil, exitError
	case 1:
		return &list[0].Job, exitOK
	}
	fmt.Fprintf(e.stderr, "Prefix matched multiple jobs\n\n")
	e.jobTable(list)
	return nil, exitError
}

func (e *env) jobTable(list []jobListEntry) {
	rows := [][]string{{"ID", "Type", "Priority", "Status", "Submit Date"}}
	for _, j := range list {
		rows = append(rows, []string{j.ID, typeString(&j.Job), strconv.Itoa(j.Priority), j.Status, formatUnixNano(j.SubmitTime)})
	}
	table(e.stdout, rows)
}

func (e *env) jobStatus(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if fs.NArg() == 0 {
		var list []jobListEntry
		b, _, err := e.get(ctx, "/v1/jobs", e.nsQuery(), &list)
		if err != nil {
			return e.fail("querying jobs", err)
		}
		if e.json {
			return e.printJSON(b)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stdout, "No running jobs")
			return exitOK
		}
		e.jobTable(list)
		return exitOK
	}
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	path := "/v1/job/" + url.PathEscape(job.ID)
	b, _, err := e.get(ctx, path, e.nsQuery(), job)
	if err != nil {
		return e.fail("querying job", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var sum struct {
		Summary map[string]*groupSummary `json:"summary"`
	}
	if _, _, err := e.get(ctx, path+"/summary", e.nsQuery(), &sum); err != nil {
		return e.fail("querying job summary", err)
	}
	var allocs []*structs.Allocation
	if _, _, err := e.get(ctx, path+"/allocations", e.nsQuery(), &allocs); err != nil {
		return e.fail("querying job allocations", err)
	}
	pairs := [][2]string{
		{"ID", job.ID},
		{"Name", job.Name},
		{"Submit Date", formatUnixNano(job.SubmitTime)},
		{"Type", typeString(job)},
		{"Priority", strconv.Itoa(job.Priority)},
		{"Datacenters", strings.Join(job.Datacenters, ",")},
		{"Namespace", job.Namespace},
		{"Status", job.Status},
		{"Version", strconv.FormatUint(job.Version, 10)},
	}
	if job.ParentID != "" { // a dispatched or periodic child
		pairs = append(pairs, [2]string{"Parent ID", job.ParentID})
	}
	kv(e.stdout, pairs)
	if job.IsParent() { // periodic or parameterized: it has children, not allocations
		return e.parentStatus(ctx, job) // children.go
	}
	fmt.Fprintln(e.stdout, "\nSummary")
	rows := [][]string{{"Task Group", "Queued", "Pending", "Running", "Failed", "Complete", "Lost", "Unknown"}}
	for _, tg := range sortedKeys(sum.Summary) {
		s := sum.Summary[tg]
		rows = append(rows, []string{tg, itoa(s.Queued), itoa(s.Pending), itoa(s.Running), itoa(s.Failed), itoa(s.Complete), itoa(s.Lost), itoa(s.Unknown)})
	}
	table(e.stdout, rows)
	e.latestDeployment(ctx, path) // deployment.go
	fmt.Fprintln(e.stdout, "\nAllocations")
	if len(allocs) == 0 {
		fmt.Fprintln(e.stdout, "No allocations placed")
		return exitOK
	}
	sortAllocs(allocs)
	rows = [][]string{{"ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created"}}
	for _, a := range allocs {
		rows = append(rows, []string{e.short(a.ID), e.short(a.NodeID), a.TaskGroup, strconv.FormatUint(a.JobVersion, 10), a.DesiredStatus, a.ClientStatus, e.ago(a.CreateTime)})
	}
	table(e.stdout, rows)
	return exitOK
}

func itoa(n int) string { return strconv.Itoa(n) }
