package apitest

import (
	"context"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/jobspec"
)

var _ interface {
	PlanJob(ctx context.Context, job *jobspec.Job) (*jobplan.Result, error)
} = (*Backend)(nil)

// PlanJob runs central's plan (central/jobplan) over the backend's jobs,
// nodes and allocations: no deployments, and nothing written.
func (b *Backend) PlanJob(ctx context.Context, job *jobspec.Job) (*jobplan.Result, error) {
	return jobplan.Compute(b, job, jobplan.Options{NewID: NewID})
}
