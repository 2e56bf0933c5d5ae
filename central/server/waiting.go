package server

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// placementWaiting reports whether the job's latest evaluation left
// allocations queued (no node was ready, eligible or had room): new
// capacity should evaluate it again, as Nomad's blocked evaluations are.
// It matters for batch jobs, whose finished allocations are not replaced
// and which are otherwise never short of their count: a dispatch made
// while a site's only node is away runs when the node comes back.
func (l *leader) placementWaiting(job *jobspec.Job) bool {
	var latest *structs.Evaluation
	for _, e := range l.s.store.EvalsByJob(job.Namespace, job.ID) {
		if latest == nil || e.CreateIndex > latest.CreateIndex {
			latest = e
		}
	}
	if latest == nil {
		return false
	}
	for _, n := range latest.QueuedAllocations {
		if n > 0 {
			return true
		}
	}
	return false
}
