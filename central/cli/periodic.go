package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

func periodicVerbs() map[string]verb {
	return map[string]verb{
		"job periodic force": {"Launch a periodic job's child now, whatever its schedule", "[options] JOB", (*env).jobPeriodicForce},
	}
}

// periodicForceResponse mirrors api.PeriodicForceResponse.
type periodicForceResponse struct {
	EvalID string `json:"eval_id"`
	JobID  string `json:"job_id"`
}

// jobPeriodicForce is `nomad job periodic force`: it launches one child of
// a periodic job now (prohibit_overlap does not hold it back) and monitors
// its evaluation unless -detach.
func (e *env) jobPeriodicForce(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	detach := fs.Bool("detach", false, "return after launching, without monitoring the evaluation")
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
	b, _, err := e.call(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(job.ID)+"/periodic/force", e.nsQuery(), nil)
	if err != nil {
		return e.fail("forcing a periodic launch", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var resp periodicForceResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("forcing a periodic launch", fmt.Errorf("decoding response: %w", err))
	}
	kv(e.stdout, [][2]string{{"Launched Job ID", resp.JobID}, {"Evaluation ID", resp.EvalID}})
	if *detach {
		return exitOK
	}
	fmt.Fprintln(e.stdout)
	return e.monitor(resp.EvalID, *timeout, false)
}

// periodicBlock prints a periodic parent's block and its next launch, as
// `nomad job status` shows them.
func (e *env) periodicBlock(job *jobspec.Job) {
	p := job.Periodic
	next := "none (disabled, stopped, or no time to come)"
	if n := job.NextLaunch(time.Now()); !n.IsZero() {
		loc, _ := p.Location()
		if loc == nil {
			loc = time.UTC
		}
		next = fmt.Sprintf("%s (%s from now)", n.In(loc).Format(time.RFC3339), time.Until(n).Round(time.Second))
	}
	zone := p.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	fmt.Fprintln(e.stdout, "\nPeriodic Job")
	kv(e.stdout, [][2]string{
		{"Crons", strings.Join(p.Crons, " | ")},
		{"Time Zone", zone},
		{"Prohibit Overlap", strconv.FormatBool(p.ProhibitOverlap)},
		{"Enabled", strconv.FormatBool(p.Enabled)},
		{"Next Periodic Launch", next},
	})
}
