package server

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Rescheduling failed allocations, the leader's part. The scheduler
// decides (central/scheduler/reschedule.go); here:
//
//	agent reports an alloc failed -> an alloc-failure evaluation of its job
//	scheduler: delay not passed   -> a pending evaluation with WaitUntil,
//	                                 named in the alloc's FollowupEvalID
//	leader                        -> holds it on a timer (delayedEvals)
//	                                 until WaitUntil, then queues it
//
// Delayed evaluations live in the state like any other, pending: a new
// leader rebuilds its timers from them (startLeader), so a failover neither
// loses a reschedule nor doubles one (the alloc's FollowupEvalID stops the
// scheduler from making a second, and process skips an evaluation that is
// no longer pending).

// delayedEvals is the leader's min-heap of evaluations by WaitUntil. The
// mutex guards h; wake tells delayLoop the earliest time may have changed.
type delayedEvals struct {
	mu   sync.Mutex
	h    evalHeap
	wake chan struct{}
}

type evalHeap []*structs.Evaluation

func (h evalHeap) Len() int           { return len(h) }
func (h evalHeap) Less(i, j int) bool { return h[i].WaitUntil < h[j].WaitUntil }
func (h evalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *evalHeap) Push(x any)        { *h = append(*h, x.(*structs.Evaluation)) }
func (h *evalHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

func newDelayedEvals() *delayedEvals { return &delayedEvals{wake: make(chan struct{}, 1)} }

func (d *delayedEvals) push(e *structs.Evaluation) {
	d.mu.Lock()
	heap.Push(&d.h, e)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// due removes and returns the evaluations whose time has come, and the
// time of the next one (zero if none).
func (d *delayedEvals) due(now time.Time) ([]*structs.Evaluation, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*structs.Evaluation
	for d.h.Len() > 0 && d.h[0].WaitUntil <= now.UnixNano() {
		out = append(out, heap.Pop(&d.h).(*structs.Evaluation))
	}
	if d.h.Len() == 0 {
		return out, 0
	}
	return out, d.h[0].WaitUntil
}

func (d *delayedEvals) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.h.Len()
}

// enqueue routes a pending evaluation: to the timer while its WaitUntil is
// ahead, else to the scheduler's queue.
func (l *leader) enqueue(e *structs.Evaluation) {
	if e.WaitUntil > time.Now().UnixNano() {
		l.delayed.push(e)
		return
	}
	l.evals.push(e)
}

// delayLoop queues each delayed evaluation when its time comes.
func (l *leader) delayLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		evals, next := l.delayed.due(time.Now())
		for _, e := range evals {
			l.evals.push(e)
		}
		wait := time.Hour
		if next != 0 {
			wait = max(time.Until(time.Unix(0, next)), time.Millisecond)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-l.delayed.wake:
		case <-l.ctx.Done():
			return
		}
	}
}

// withFailureEvals adds, to ops carrying an agent's report, one
// alloc-failure evaluation per service or batch job with an allocation the
// report newly marks failed (Nomad evaluates on a failed allocation; its
// reschedule policy then decides).
func (l *leader) withFailureEvals(ops []state.Op, op *state.ClientUpdate) []state.Op {
	var evals []*structs.Evaluation
	seen := map[[2]string]bool{}
	for i := range op.Allocs {
		u := &op.Allocs[i]
		if u.ClientStatus != protocol.AllocFailed {
			continue
		}
		a := l.s.store.AllocByID(u.ID)
		if a == nil || a.NodeID != op.NodeID || a.ClientStatus == protocol.AllocFailed || a.DesiredStatus == protocol.DesiredStop {
			continue
		}
		key := [2]string{a.Namespace, a.JobID}
		if seen[key] {
			continue
		}
		seen[key] = true
		job := l.s.store.JobByID(a.Namespace, a.JobID)
		if job == nil || job.Stop || (job.Type != jobspec.JobTypeService && job.Type != jobspec.JobTypeBatch) {
			continue
		}
		evals = append(evals, newEval(job.Namespace, job.ID, job.Type, job.Priority, structs.TriggerAllocFailure, op.NodeID, op.Now))
	}
	if len(evals) == 0 {
		return ops
	}
	return append(ops, state.Op{UpsertEvals: evals})
}

// rescheduleWaiting reports whether a batch job has a failed allocation
// whose reschedule is due but not placed (no node had room): new capacity
// should evaluate it.
func (l *leader) rescheduleWaiting(job *jobspec.Job) bool {
	now := time.Now().UnixNano()
	for _, a := range l.s.store.AllocsByJob(job.Namespace, job.ID) {
		if scheduler.RescheduleDue(a, job.Type, now) {
			return true
		}
	}
	return false
}
