package api

import (
	"context"
	"net/http"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

// periodicForcer is the Backend's ability to launch a periodic job's
// child now (`job periodic force`), found by type assertion.
type periodicForcer interface {
	ForcePeriodic(ctx context.Context, ns, id string) (childID, evalID string, err error)
}

// PeriodicForceResponse answers POST /v1/job/<id>/periodic/force (Nomad's
// response, snake_case, with the child's ID).
type PeriodicForceResponse struct {
	EvalID          string `json:"eval_id"`
	EvalCreateIndex uint64 `json:"eval_create_index"`
	JobID           string `json:"job_id"` // the launched child
}

// forcePeriodic launches a periodic job's child now, whatever its
// schedule and prohibit_overlap (Nomad's Job.PeriodicForce). It needs
// submit-job, as submitting the job does.
func (s *server) forcePeriodic(w http.ResponseWriter, r *http.Request) error {
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	f, ok := s.b.(periodicForcer)
	if !ok {
		return &httpError{code: http.StatusNotImplemented, msg: "this server cannot launch periodic jobs", err: errBadRequest}
	}
	child, evalID, err := f.ForcePeriodic(r.Context(), j.Namespace, j.ID)
	if err != nil {
		return err
	}
	var idx uint64
	if e := s.b.State().EvalByID(evalID); e != nil {
		idx = e.CreateIndex
	}
	return writeJSON(w, idx, PeriodicForceResponse{EvalID: evalID, EvalCreateIndex: idx, JobID: child})
}

// JobWithLaunch is GET /v1/job/<id>: the job, and for a periodic job its
// next launch (unix ns; absent when none will come: disabled, stopped, or
// crons naming no time to come).
type JobWithLaunch struct {
	*jobspec.Job
	NextPeriodicLaunch int64 `json:"next_periodic_launch,omitempty"`
}

func withNextLaunch(j *jobspec.Job) any {
	if j.Periodic == nil || j.ParentID != "" {
		return j
	}
	out := JobWithLaunch{Job: j}
	if next := j.NextLaunch(time.Now()); !next.IsZero() {
		out.NextPeriodicLaunch = next.UnixNano()
	}
	return out
}
