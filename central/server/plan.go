package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// PlanJob is `job plan`'s dry run (POST /v1/job/<id>/plan): the checks
// SubmitJob makes, then the scheduler over a snapshot of this server's
// state with job in place of its running version. Nothing is written: no
// job version, no evaluation, no Raft entry. Writes are forwarded to the
// leader (forward.go), so a plan sent to a follower runs on the leader's
// state, as Nomad's does.
func (s *Server) PlanJob(ctx context.Context, job *jobspec.Job) (*jobplan.Result, error) {
	if err := s.CheckJob(job); err != nil { // checkjob.go
		return nil, err
	}
	c := *job
	if c.Region == jobspec.DefaultRegion {
		c.Region = s.cfg.Region // as SubmitJob stores it, so an unchanged job diffs as unchanged
	}
	res, err := jobplan.Compute(s.store.Snapshot(), &c, jobplan.Options{NewID: structs.GenerateID, Now: time.Now().UnixNano()})
	if err != nil {
		return nil, refused{err}
	}
	return res, nil
}

// SubmitJobAt is SubmitJob checked against the job modify index a plan
// returned (`job run -check-index N`): the write is refused with a
// conflict unless the job's current JobModifyIndex is still checkIndex,
// or, with 0, unless the job does not exist (Nomad's rule). The check is
// made by the state store when it applies the write (UpsertJob's
// EnforceIndex and EnforceAbsent), so nothing can slip in between.
func (s *Server) SubmitJobAt(ctx context.Context, job *jobspec.Job, checkIndex uint64) (string, uint64, error) {
	evalID, idx, err := s.submitJob(job, checkIndex, checkIndex == 0) // server.go
	if err != nil && errors.Is(err, state.ErrConflict) {
		return "", 0, conflict{fmt.Errorf("%w: plan it again (central job plan) and submit with the new index", err)}
	}
	return evalID, idx, err
}
