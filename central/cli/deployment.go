package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func deploymentVerbs() map[string]verb {
	return map[string]verb{
		"deployment list":    {"List deployments, newest first", "[options]", (*env).deploymentList},
		"deployment status":  {"Show a deployment and each group's progress", "[options] DEPLOYMENT", (*env).deploymentStatus},
		"deployment promote": {"Promote a deployment's canaries: roll out the rest", "[options] DEPLOYMENT", (*env).deploymentPromote},
		"deployment fail":    {"Mark a deployment failed (its job reverts when the group has auto_revert)", "[options] DEPLOYMENT", (*env).deploymentFail},
		"deployment pause":   {"Pause a deployment: no new allocations are placed", "[options] DEPLOYMENT", (*env).deploymentPause},
		"deployment resume":  {"Resume a paused deployment", "[options] DEPLOYMENT", (*env).deploymentResume},
	}
}

// Polling of a deployment: a blocking query of up to deployWait, then, if
// nothing changed, a pause that grows from pollMin to pollMax.
const (
	deployWait = 30 * time.Second
	pollMin    = 250 * time.Millisecond
	pollMax    = 5 * time.Second
	// pollErrors is how many failed polls in a row end the monitor (a
	// leader election answers a few with errors).
	pollErrors = 5
)

func (e *env) deploymentList(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []*structs.Deployment
	b, _, err := e.get(ctx, "/v1/deployments", e.nsQuery(), &list)
	if err != nil {
		return e.fail("querying deployments", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No deployments found")
		return exitOK
	}
	sortDeployments(list)
	rows := [][]string{{"ID", "Job ID", "Job Version", "Status", "Description"}}
	for _, d := range list {
		rows = append(rows, []string{e.short(d.ID), d.JobID, strconv.FormatUint(d.JobVersion, 10), d.Status, d.StatusDescription})
	}
	table(e.stdout, rows)
	return exitOK
}

// sortDeployments sorts newest first.
func sortDeployments(ds []*structs.Deployment) {
	sort.SliceStable(ds, func(i, k int) bool { return ds[i].CreateIndex > ds[k].CreateIndex })
}

// resolveDeployment finds a deployment by ID or unique ID prefix; on
// failure it prints why and returns nil and the exit code.
func (e *env) resolveDeployment(ctx context.Context, id string) (*structs.Deployment, []byte, int) {
	var d structs.Deployment
	b, _, err := e.get(ctx, "/v1/deployment/"+url.PathEscape(id), e.nsQuery(), &d)
	if err == nil {
		return &d, b, exitOK
	}
	if !isNotFound(err) {
		return nil, nil, e.fail("querying deployment", err)
	}
	var list []*structs.Deployment
	if _, _, err := e.get(ctx, "/v1/deployments", e.nsQuery(), &list); err != nil {
		return nil, nil, e.fail("querying deployments", err)
	}
	var match []*structs.Deployment
	for _, d := range list {
		if strings.HasPrefix(d.ID, id) {
			match = append(match, d)
		}
	}
	switch len(match) {
	case 0:
		fmt.Fprintf(e.stderr, "No deployment(s) with prefix or id %q found\n", id)
		return nil, nil, exitError
	case 1:
		b, _, err := e.get(ctx, "/v1/deployment/"+url.PathEscape(match[0].ID), e.nsQuery(), &d)
		if err != nil {
			return nil, nil, e.fail("querying deployment", err)
		}
		return &d, b, exitOK
	}
	fmt.Fprintf(e.stderr, "Prefix matched multiple deployments\n\n")
	rows := [][]string{{"ID", "Job ID", "Job Version", "Status"}}
	for _, d := range match {
		rows = append(rows, []string{d.ID, d.JobID, strconv.FormatUint(d.JobVersion, 10), d.Status})
	}
	table(e.stderr, rows)
	return nil, nil, exitError
}

func (e *env) deploymentStatus(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	d, b, code := e.resolveDeployment(ctx, fs.Arg(0))
	if d == nil {
		return code
	}
	if e.json {
		return e.printJSON(b)
	}
	e.printDeployment(d)
	return exitOK
}

// printDeployment prints a deployment as `deployment status` shows it.
func (e *env) printDeployment(d *structs.Deployment) {
	kv(e.stdout, [][2]string{
		{"ID", e.short(d.ID)},
		{"Job ID", d.JobID},
		{"Job Version", strconv.FormatUint(d.JobVersion, 10)},
		{"Namespace", d.Namespace},
		{"Status", d.Status},
		{"Description", d.StatusDescription},
	})
	e.deployedTable(d)
}

// latestDeployment prints, for job status, the job's newest deployment
// (GET <jobPath>/deployment), as Nomad's job status does; nothing when
// the job has none or the server keeps none.
func (e *env) latestDeployment(ctx context.Context, jobPath string) {
	var d *structs.Deployment
	if _, _, err := e.get(ctx, jobPath+"/deployment", e.nsQuery(), &d); err != nil || d == nil || d.ID == "" {
		return
	}
	fmt.Fprintln(e.stdout, "\nLatest Deployment")
	kv(e.stdout, [][2]string{
		{"ID", e.short(d.ID)},
		{"Job Version", strconv.FormatUint(d.JobVersion, 10)},
		{"Status", d.Status},
		{"Description", d.StatusDescription},
	})
	e.deployedTable(d)
}

// deployedTable prints each group's progress in d.
func (e *env) deployedTable(d *structs.Deployment) {
	fmt.Fprintln(e.stdout, "\nDeployed")
	canaries := false
	for _, s := range d.TaskGroups {
		canaries = canaries || s.DesiredCanaries > 0
	}
	head := []string{"Task Group", "Auto Revert"}
	if canaries {
		head = append(head, "Promoted")
	}
	head = append(head, "Desired")
	if canaries {
		head = append(head, "Canaries")
	}
	head = append(head, "Placed", "Healthy", "Unhealthy", "Progress Deadline")
	rows := [][]string{head}
	for _, name := range sortedKeys(d.TaskGroups) {
		s := d.TaskGroups[name]
		row := []string{name, strconv.FormatBool(s.AutoRevert)}
		if canaries {
			row = append(row, strconv.FormatBool(s.Promoted))
		}
		row = append(row, itoa(s.DesiredTotal))
		if canaries {
			row = append(row, fmt.Sprintf("%d/%d", len(s.PlacedCanaries), s.DesiredCanaries))
		}
		deadline := "<none>"
		if s.RequireProgressBy != 0 && d.Active() {
			deadline = formatUnixNano(s.RequireProgressBy)
		} else if s.ProgressDeadline != 0 {
			deadline = time.Duration(s.ProgressDeadline).String()
		}
		row = append(row, itoa(s.PlacedAllocs), itoa(s.HealthyAllocs), itoa(s.UnhealthyAllocs), deadline)
		rows = append(rows, row)
	}
	table(e.stdout, rows)
}

// deploymentWrite is the common part of promote, fail, pause and resume:
// resolve the deployment, POST body to /v1/deployment/<action>/<id>, say
// what happened and, unless -detach or for a pause, follow the deployment.
func (e *env) deploymentWrite(args []string, action, done string, body any, follow bool) int {
	fs := e.flags()
	e.nsFlag(fs)
	var detach *bool
	if follow {
		detach = fs.Bool("detach", false, "return at once instead of following the deployment until it ends")
	}
	timeout := fs.Duration("timeout", 0, "how long to follow the deployment before giving up (0: until it ends)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	d, _, code := e.resolveDeployment(ctx, fs.Arg(0))
	if d == nil {
		return code
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/deployment/"+action+"/"+url.PathEscape(d.ID), e.nsQuery(), body)
	if err != nil {
		return e.fail(action+" deployment", err)
	}
	fmt.Fprintf(e.stdout, "Deployment %q %s\n", e.short(d.ID), done)
	var resp map[string]any
	if json.Unmarshal(b, &resp) == nil {
		if id, ok := resp["eval_id"].(string); ok && id != "" {
			fmt.Fprintf(e.stdout, "Evaluation ID: %s\n", id)
		}
		if v, ok := resp["reverted_job_version"].(float64); ok {
			fmt.Fprintf(e.stdout, "Job %q reverted to its stable version %d (auto_revert)\n", d.JobID, uint64(v))
		}
	}
	if !follow || *detach {
		return exitOK
	}
	return e.followDeployment(d, *timeout)
}

func (e *env) deploymentPromote(args []string) int {
	return e.deploymentWrite(args, "promote", "promoted", map[string]any{}, true)
}

func (e *env) deploymentFail(args []string) int {
	return e.deploymentWrite(args, "fail", "marked failed", map[string]any{}, false)
}

func (e *env) deploymentPause(args []string) int {
	return e.deploymentWrite(args, "pause", "paused", map[string]any{"pause": true}, false)
}

func (e *env) deploymentResume(args []string) int {
	return e.deploymentWrite(args, "pause", "resumed", map[string]any{"pause": false}, true)
}

// followDeployment monitors d (until timeout, 0: until it ends) and
// returns the exit code monitorDeployment gives it.
func (e *env) followDeployment(d *structs.Deployment, timeout time.Duration) int {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	return e.monitorDeployment(ctx, d)
}

// needsDeployment reports whether central rolls job out in a deployment:
// a service or system job with a group whose update block has
// max_parallel > 0 (Nomad's rule: max_parallel = 0 updates everything at
// once, without a deployment).
func needsDeployment(job *jobspec.Job) bool {
	if job.Stop || (job.Type != jobspec.JobTypeService && job.Type != jobspec.JobTypeSystem) {
		return false
	}
	for _, tg := range job.TaskGroups {
		if tg != nil && tg.Update != nil && tg.Update.MaxParallel > 0 {
			return true
		}
	}
	return false
}

// monitorRollout follows a registration (submit, run, revert): its
// evaluation, then, when the job rolls out in a deployment, the
// deployment until it ends. Exit 0 when it succeeded (or waits for a
// manual promotion), 1 when it failed or was cancelled, 2 when the
// evaluation could not place everything.
func (e *env) monitorRollout(resp submitResponse, evalTimeout, deployTimeout time.Duration) int {
	code, job := e.monitorEval(resp.EvalID, evalTimeout, false, needsDeployment)
	if code != exitOK || job == nil || !needsDeployment(job) {
		return code
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if deployTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, deployTimeout)
	}
	defer cancel()
	d, err := e.jobDeployment(ctx, job, resp.JobModifyIndex)
	if err != nil {
		return e.fail("finding the job's deployment", err)
	}
	if d == nil {
		fmt.Fprintf(e.stdout, "==> %s: No deployment for version %d of job %q: nothing to roll out\n", e.stamp(), job.Version, job.ID)
		return exitOK
	}
	return e.monitorDeployment(ctx, d)
}

// jobDeployment returns the newest deployment of job's version registered
// at jobModifyIndex (0: any), or nil when there is none.
func (e *env) jobDeployment(ctx context.Context, job *jobspec.Job, jobModifyIndex uint64) (*structs.Deployment, error) {
	q := url.Values{}
	if job.Namespace != "" && job.Namespace != "default" {
		q.Set("namespace", job.Namespace)
	}
	var list []*structs.Deployment
	if _, _, err := e.get(ctx, "/v1/job/"+url.PathEscape(job.ID)+"/deployments", q, &list); err != nil {
		return nil, err
	}
	sortDeployments(list)
	for _, d := range list {
		if d.JobVersion == job.Version && (jobModifyIndex == 0 || d.JobModifyIndex == jobModifyIndex) {
			return d, nil
		}
	}
	return nil, nil
}

// monitorDeployment polls a deployment until it ends or ctx is done,
// printing each group's progress when it changes.
func (e *env) monitorDeployment(ctx context.Context, d *structs.Deployment) int {
	fmt.Fprintf(e.stdout, "==> %s: Monitoring deployment %q (job %q version %d)\n", e.stamp(), shortID(d.ID), d.JobID, d.JobVersion)
	q := url.Values{}
	if d.Namespace != "" && d.Namespace != "default" {
		q.Set("namespace", d.Namespace)
	}
	path := "/v1/deployment/" + url.PathEscape(d.ID)
	var (
		index, lastModify uint64
		printed           = map[string]string{} // group (or "" for the status) → last line printed
		pause             = pollMin
		errs              int
	)
	for {
		var cur structs.Deployment
		_, idx, err := e.get(ctx, path, blockingQuery(q, index, deployWait), &cur)
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(e.stderr, "Error: stopped monitoring deployment %q (status %q): %v; it continues in the background: see central deployment status %s\n",
				shortID(d.ID), d.Status, context.Cause(ctx), shortID(d.ID))
			return exitError
		case err != nil:
			errs++
			if errs >= pollErrors || isNotFound(err) {
				return e.fail("monitoring deployment", err)
			}
		default:
			errs = 0
			d = &cur
			index = idx
			e.printProgress(d, printed)
			if code, done := e.deploymentDone(ctx, d); done {
				return code
			}
		}
		if err == nil && d.ModifyIndex != lastModify {
			lastModify, pause = d.ModifyIndex, pollMin
			continue
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		pause = min(pause*2, pollMax)
	}
}

// printProgress prints the status and each group's counts when they
// changed since the last call.
func (e *env) printProgress(d *structs.Deployment, printed map[string]string) {
	if line := d.Status + ": " + d.StatusDescription; printed[""] != line {
		printed[""] = line
		fmt.Fprintf(e.stdout, "    %s: Deployment %q %s (%s)\n", e.stamp(), shortID(d.ID), d.Status, d.StatusDescription)
	}
	for _, name := range sortedKeys(d.TaskGroups) {
		s := d.TaskGroups[name]
		line := fmt.Sprintf("group %q: %d/%d placed, %d healthy, %d unhealthy", name, s.PlacedAllocs, s.DesiredTotal, s.HealthyAllocs, s.UnhealthyAllocs)
		if s.DesiredCanaries > 0 {
			line += fmt.Sprintf(", canaries %d/%d", len(s.PlacedCanaries), s.DesiredCanaries)
			if s.Promoted {
				line += ", promoted"
			}
		}
		if printed[name] != line {
			printed[name] = line
			fmt.Fprintf(e.stdout, "    %s: %s\n", e.stamp(), line)
		}
	}
}

// deploymentDone reports whether the deployment ended, with the exit
// code, after saying how it ended.
func (e *env) deploymentDone(ctx context.Context, d *structs.Deployment) (int, bool) {
	switch d.Status {
	case structs.DeploymentSuccessful:
		fmt.Fprintf(e.stdout, "==> %s: Deployment %q successful: version %d of job %q is stable\n", e.stamp(), shortID(d.ID), d.JobVersion, d.JobID)
		return exitOK, true
	case structs.DeploymentFailed:
		fmt.Fprintf(e.stdout, "==> %s: Deployment %q failed: %s\n", e.stamp(), shortID(d.ID), d.StatusDescription)
		fmt.Fprintf(e.stderr, "Error: deployment %q of job %q version %d failed: %s\n%s\n", shortID(d.ID), d.JobID, d.JobVersion, d.StatusDescription, e.revertNote(ctx, d))
		return exitError, true
	case structs.DeploymentCancelled:
		fmt.Fprintf(e.stdout, "==> %s: Deployment %q cancelled: %s\n", e.stamp(), shortID(d.ID), d.StatusDescription)
		fmt.Fprintf(e.stderr, "Error: deployment %q of job %q version %d was cancelled before it finished: %s\n", shortID(d.ID), d.JobID, d.JobVersion, d.StatusDescription)
		return exitError, true
	case structs.DeploymentRunning, structs.DeploymentPending:
		if waitsForPromotion(d) {
			fmt.Fprintf(e.stdout, "==> %s: Deployment %q: its canaries are healthy and wait to be promoted: central deployment promote %s (or roll back: central deployment fail %s)\n",
				e.stamp(), shortID(d.ID), shortID(d.ID), shortID(d.ID))
			return exitOK, true
		}
	}
	return 0, false
}

// waitsForPromotion reports whether every group with canaries that needs
// a manual promotion has them all placed and healthy.
func waitsForPromotion(d *structs.Deployment) bool {
	manual := false
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries == 0 || s.Promoted {
			continue
		}
		if s.AutoPromote || len(s.PlacedCanaries) < s.DesiredCanaries || s.HealthyAllocs < s.DesiredCanaries {
			return false
		}
		manual = true
	}
	return manual
}

// revertNote says whether the failed deployment's job was reverted: its
// current version is newer than the failed one and a copy of an older
// version.
func (e *env) revertNote(ctx context.Context, d *structs.Deployment) string {
	auto := false
	for _, s := range d.TaskGroups {
		auto = auto || s.AutoRevert
	}
	q := url.Values{}
	if d.Namespace != "" && d.Namespace != "default" {
		q.Set("namespace", d.Namespace)
	}
	// The revert is registered by central right after it fails the
	// deployment: with auto_revert, give it a few seconds to appear.
	var vs versionsResponse
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	for pause := pollMin; ; pause = min(pause*2, pollMax) {
		vs = versionsResponse{}
		_, _, err = e.get(rctx, "/v1/job/"+url.PathEscape(d.JobID)+"/versions", q, &vs)
		if !auto || err != nil || (len(vs.Versions) > 0 && vs.Versions[0].Version > d.JobVersion) {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-rctx.Done():
		case <-t.C:
		}
		t.Stop()
		if rctx.Err() != nil {
			err = nil
			break
		}
	}
	if err == nil && len(vs.Versions) > 0 && vs.Versions[0].Version > d.JobVersion {
		cur := vs.Versions[0]
		for _, v := range vs.Versions[1:] {
			if v.Version < d.JobVersion && len(diffJobs(v, cur)) == 0 {
				return fmt.Sprintf("The job was reverted: version %d is a copy of version %d.", cur.Version, v.Version)
			}
		}
		return fmt.Sprintf("The job has a newer version since: %d (see central job history -p %s).", cur.Version, d.JobID)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("Could not tell whether the job was reverted: %v.", err)
	}
	if auto {
		return "auto_revert is set but the job was not reverted (no stable version to go back to?): see central job history " + d.JobID + "."
	}
	return fmt.Sprintf("The job was not reverted (no auto_revert): go back with central job revert %s <version> (see central job history %s).", d.JobID, d.JobID)
}
