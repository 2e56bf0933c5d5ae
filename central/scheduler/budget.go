package scheduler

import (
	"math"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// A node's desired state is one MQTT message that its agent decodes with
// strict limits. Besides cpu, memory and ports, every placement must keep
// it within Options.MaxAllocsPerNode allocations and Options.MaxNodeBytes
// encoded bytes (desired.MaxAllocsPerNode, desired.MaxNodeBytes): a node
// past either could no longer be told anything, stops included, whoever's
// job pushed it there. A placement that would cross a budget goes to
// another node or fails with the dimension recorded in its metric.
const (
	DimAllocs       = "allocations per node"
	DimDesiredBytes = "desired state bytes"
)

// unencodable is the size given to an entry that cannot be encoded: it
// never fits.
const unencodable = math.MaxInt32

// sizeKey names what an allocation's desired-state entry is made of.
type sizeKey struct {
	job   *jobspec.Job
	group string
}

// allocBytes returns the upper bound (desired.AllocBound) on the entry of
// an allocation of group of job, without its datacenter, computed once
// per job version and group in a Compute call.
func (s *sched) allocBytes(job *jobspec.Job, tg *jobspec.TaskGroup) int {
	k := sizeKey{job, tg.Name}
	if n, ok := s.sizes[k]; ok {
		return n
	}
	n, err := desired.AllocBound(job, tg)
	if err != nil {
		n = unencodable
	}
	s.sizes[k] = n
	return n
}

// desiredBytes returns what alloc a adds to node i's desired state, and
// whether it is in it at all.
func (s *sched) desiredBytes(a *structs.Allocation, i int) (int, bool) {
	if !desired.Included(a) {
		return 0, false
	}
	tg := a.Job.LookupTaskGroup(a.TaskGroup)
	if tg == nil {
		return 0, false // left out of the desired state too
	}
	return s.allocBytes(a.Job, tg) + desired.DatacenterBytes(s.nodes[i].Datacenter), true
}

// budgetExhausted returns the budget of node i that one more allocation of
// g would cross, or "".
func (s *sched) budgetExhausted(g *groupCtx, i int, u *nodeUsage) string {
	if u.allocs+1 > s.opts.MaxAllocsPerNode {
		return DimAllocs
	}
	if u.bytes+s.allocBytes(s.job, g.tg)+desired.DatacenterBytes(s.nodes[i].Datacenter) > s.opts.MaxNodeBytes {
		return DimDesiredBytes
	}
	return ""
}
