package server

import (
	"sync"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// capacityTTL bounds how long a capacity answer is reused while the
// state does not change: a batch job's reschedule becomes due with time
// alone (reschedule.go has its own timer for that; this only keeps a
// hello from missing it for long).
const capacityTTL = time.Second

// capacityCache memoises which jobs a node joining may serve (every system
// and sysbatch job, and every job short of its count), for one state of
// the jobs, allocations and evaluations tables. Finding the short jobs
// reads every job's allocations; in a reconnect storm thousands of nodes
// come back between two Raft applies, and each used to pay that scan
// (O(jobs × allocations) per hello). Now it is paid once per state change,
// and a hello between two changes costs three index reads.
type capacityCache struct {
	mu                  sync.Mutex // guards the fields below
	jobs, allocs, evals uint64     // table indexes the answer was computed at
	at                  time.Time
	valid               bool
	serve               []capacityJob
}

// capacityJob is what an evaluation for a job needs.
type capacityJob struct {
	ns, id, typ string
	priority    int
}

// evalsForNewCapacity returns evaluations for the jobs that a node joining
// may serve: every system and sysbatch job, and every job short of its
// count.
func (l *leader) evalsForNewCapacity(now int64, nodeID string) []*structs.Evaluation {
	jobs := l.capacity.get(l, time.Unix(0, now))
	evals := make([]*structs.Evaluation, 0, len(jobs))
	for _, j := range jobs {
		evals = append(evals, newEval(j.ns, j.id, j.typ, j.priority, structs.TriggerNodeUpdate, nodeID, now))
	}
	return evals
}

// get returns the jobs a joining node may serve, computed again when a
// table changed or the answer is older than capacityTTL.
func (c *capacityCache) get(l *leader, now time.Time) []capacityJob {
	st := l.s.store
	// Indexes first: a change after these reads makes the next call
	// compute again, so an answer is never kept past its state.
	jobs, allocs, evals := st.Index(state.TableJobs), st.Index(state.TableAllocs), st.Index(state.TableEvals)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.jobs == jobs && c.allocs == allocs && c.evals == evals && now.Sub(c.at) < capacityTTL && !now.Before(c.at) {
		return c.serve
	}
	c.serve = nil
	for _, job := range st.Jobs("") {
		if job.Stop {
			continue
		}
		if jobspec.OnEveryNode(job.Type) || l.jobShort(job) {
			c.serve = append(c.serve, capacityJob{ns: job.Namespace, id: job.ID, typ: job.Type, priority: job.Priority})
		}
	}
	c.jobs, c.allocs, c.evals, c.at, c.valid = jobs, allocs, evals, now, true
	return c.serve
}

// invalidate forgets the answer (benchmarks: the cost of a hello before
// the memo).
func (c *capacityCache) invalidate() {
	c.mu.Lock()
	c.valid = false
	c.mu.Unlock()
}
