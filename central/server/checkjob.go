package server

import (
	"fmt"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/jobspec"
)

// CheckJob runs the checks SubmitJob runs on a parsed job before it writes
// anything: an agent must be able to receive it, it names this cluster's
// region (or none), and it does not change kind under existing
// allocations. POST /v1/validate/job calls it (api.JobChecker); it
// changes nothing, not even job.
func (s *Server) CheckJob(job *jobspec.Job) error {
	if err := desired.CheckJob(job); err != nil { // an agent must be able to receive it
		return refused{err}
	}
	region := job.Region
	if region == jobspec.DefaultRegion {
		region = s.cfg.Region // the default: a job that names no region runs in this one
	}
	if region != s.cfg.Region {
		// One cluster is one region: there is no other to forward it to.
		return refused{fmt.Errorf("job %q: region %q is not this cluster's region %q: write region = %q or remove the line (Tether does not forward jobs between regions)",
			job.ID, region, s.cfg.Region, s.cfg.Region)}
	}
	if err := checkKindChange(s.store.JobByID(job.Namespace, job.ID), job); err != nil {
		return refused{err}
	}
	return nil
}
