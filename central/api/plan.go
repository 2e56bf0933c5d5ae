package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/jobspec"
)

// JobPlanner is what a Backend adds for POST /v1/job/<id>/plan: the
// checks SubmitJob makes, then a dry run of the scheduler over the current
// state (central/jobplan). It writes nothing.
type JobPlanner interface {
	PlanJob(ctx context.Context, job *jobspec.Job) (*jobplan.Result, error)
}

// IndexedSubmitter is what a Backend adds for POST /v1/jobs?check_index=N
// (`job run -check-index N`): SubmitJob refused with ErrConflict unless
// the job's current job modify index is still checkIndex (0: unless the
// job does not exist).
type IndexedSubmitter interface {
	SubmitJobAt(ctx context.Context, job *jobspec.Job, checkIndex uint64) (evalID string, jobModifyIndex uint64, err error)
}

// isPlanPath reports whether path is /v1/job/<id>/plan.
func isPlanPath(path string) bool {
	id, ok := strings.CutSuffix(strings.TrimPrefix(path, "/v1/job/"), "/plan")
	return ok && strings.HasPrefix(path, "/v1/job/") && id != "" && !strings.Contains(id, "/")
}

// planJob answers POST /v1/job/<id>/plan: the body is a job submission
// (SubmitRequest, read and parsed as POST /v1/jobs reads it); the answer
// is what submitting it would do now. submit-job was checked before the
// body was read (canSubmit, as Nomad requires for a plan) and is checked
// again in the parsed job's namespace. ?diff=false leaves the diff out.
func (s *server) planJob(w http.ResponseWriter, r *http.Request) error {
	job, warnings, err := s.readJob(w, r) // submit.go
	if err != nil || job == nil {
		return err
	}
	if id := r.PathValue("id"); job.ID != id {
		return badRequest("the job file defines job %q but the request is for job %q: send it to /v1/job/%s/plan", job.ID, id, job.ID)
	}
	ns := job.Namespace
	if ns == "" {
		ns = "default"
	}
	if err := allowNS(r, ns, acl.CapSubmitJob); err != nil {
		return err
	}
	p, ok := s.b.(JobPlanner)
	if !ok {
		return &httpError{code: http.StatusNotImplemented, msg: "this server cannot plan jobs"}
	}
	// A plan scans every node: it takes one of the parse slots too, so
	// plans and parses together use at most that many CPUs.
	release, err := s.parseSlot(w, r, "planning or parsing")
	if err != nil || release == nil {
		return err // nil: the client is gone
	}
	defer release()
	res, err := p.PlanJob(r.Context(), job)
	if err != nil {
		return err
	}
	if res.Warnings != "" {
		warnings = append(warnings, res.Warnings)
	}
	res.Warnings = strings.Join(warnings, "\n")
	if d := r.URL.Query().Get("diff"); d != "" {
		if keep, err := strconv.ParseBool(d); err != nil {
			return badRequest("?diff=%q: write true or false", d)
		} else if !keep {
			res.Diff = nil
		}
	}
	return writeJSON(w, res.JobModifyIndex, res)
}

// checkIndex reads ?check_index=N of a submission: the job modify index
// the job must still have (0: the job must not exist).
func checkIndex(r *http.Request) (uint64, bool, error) {
	v := r.URL.Query().Get("check_index")
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, badRequest("?check_index=%q: write the job modify index `central job plan` printed (a number; 0 for a new job)", v)
	}
	return n, true, nil
}
