package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// conflict is a write refused because the job changed meanwhile: the API
// answers 409 with its text.
type conflict struct{ err error }

func (c conflict) Error() string   { return c.err.Error() }
func (c conflict) Unwrap() []error { return []error{api.ErrConflict, c.err} }

// RevertCopy returns the spec of a kept job version ready to be
// registered again as the job's newest version, as Nomad's revert does:
// the fields central sets are cleared, and it is not stable until a
// deployment of the new version succeeds.
func RevertCopy(v *jobspec.Job) *jobspec.Job {
	c := *v // versions share their (immutable) groups
	c.Stable = false
	c.Version, c.Status, c.SubmitTime = 0, "", 0
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	return &c
}

// RevertJob registers a copy of kept version `version` of a job as its
// newest version, with an evaluation. The write is applied only if the
// job has not changed since it was read here (UpsertJob.EnforceIndex), so
// enforcePrior holds at the moment of the write.
func (s *Server) RevertJob(ctx context.Context, ns, id string, version uint64, enforcePrior *uint64) (string, uint64, error) {
	cur := s.store.JobByID(ns, id)
	if cur == nil {
		return "", 0, refused{fmt.Errorf("job %q not found in namespace %q", id, ns)}
	}
	if enforcePrior != nil && cur.Version != *enforcePrior {
		return "", 0, conflict{fmt.Errorf("job %q is at version %d, not %d (enforce_prior_version): read its history again and retry", id, cur.Version, *enforcePrior)}
	}
	if version == cur.Version {
		return "", 0, refused{fmt.Errorf("version %d is job %q's current version: nothing to revert", version, id)}
	}
	target := s.store.JobVersion(ns, id, version)
	if target == nil {
		return "", 0, refused{fmt.Errorf("job %q has no version %d any more (only the newest versions are kept): pick one from `central job history %s`", id, version, id)}
	}
	job := RevertCopy(target)
	if err := desired.CheckJob(job); err != nil {
		return "", 0, refused{err}
	}
	now := time.Now().UnixNano()
	eval := &structs.Evaluation{
		ID: structs.GenerateID(), Namespace: ns, Priority: job.Priority, Type: job.Type,
		TriggeredBy: structs.TriggerJobRegister, JobID: id, Status: structs.EvalPending,
		CreateTime: now, ModifyTime: now,
	}
	op := &state.UpsertJob{Job: job, Eval: eval, Now: now, KeepVersions: s.cfg.GC.TrackedVersions, EnforceIndex: cur.JobModifyIndex}
	res, err := s.apply(&state.Command{Ops: []state.Op{{UpsertJob: op}}})
	if err != nil {
		if errors.Is(err, state.ErrConflict) {
			return "", 0, conflict{err}
		}
		return "", 0, err
	}
	return eval.ID, res.JobIndex, nil
}
