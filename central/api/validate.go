package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/jobspec"
)

// ValidateResponse answers POST /v1/validate/job. A job file that does not
// parse or that central would refuse is a 200 with Valid false and the
// reasons in Error, one per line, so a client tells "the job is wrong" from
// "the request failed".
type ValidateResponse struct {
	Valid    bool   `json:"valid"`
	Error    string `json:"error,omitempty"`
	Warnings string `json:"warnings,omitempty"`
}

// JobChecker is what a Backend may add for POST /v1/validate/job: the
// checks SubmitJob runs on a parsed job before it writes anything (the job
// fits a node's desired state, its region, a change of kind). Without it
// validation stops at the job file's own checks.
type JobChecker interface {
	CheckJob(job *jobspec.Job) error
}

// canValidate is POST /v1/validate/job's guard, run before the body is
// read: read-job (as Nomad requires) in ?namespace= when given, otherwise
// in at least one namespace; validateJob checks the parsed job's namespace
// again.
func canValidate(r *http.Request) error {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return allowNS(r, ns, acl.CapReadJob)
	}
	return allowNS(r, "*", acl.CapReadJob)
}

// validateJob parses and checks a job as POST /v1/jobs would, and changes
// nothing.
func (s *server) validateJob(w http.ResponseWriter, r *http.Request) error {
	job, warnings, err := s.readJob(w, r) // submit.go
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && he.code == http.StatusBadRequest {
			return writeJSON(w, 0, ValidateResponse{Error: he.msg, Warnings: strings.Join(warnings, "\n")})
		}
		return err
	}
	if job == nil {
		return nil // the client is gone
	}
	ns := job.Namespace
	if ns == "" {
		ns = "default"
	}
	if err := allowNS(r, ns, acl.CapReadJob); err != nil {
		return err
	}
	resp := ValidateResponse{Valid: true, Warnings: strings.Join(warnings, "\n")}
	if c, ok := s.b.(JobChecker); ok {
		if err := c.CheckJob(job); err != nil {
			resp.Valid, resp.Error = false, err.Error()
		}
	}
	return writeJSON(w, 0, resp)
}
