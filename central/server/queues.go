package server

import (
	"context"
	"sync"

	"github.com/tether-edge/tether/central/structs"
)

// evalQueue is the leader's FIFO of evaluations to process.
type evalQueue struct {
	mu    sync.Mutex // guards q
	q     []*structs.Evaluation
	ready chan struct{}
}

func newEvalQueue() *evalQueue { return &evalQueue{ready: make(chan struct{}, 1)} }

func (q *evalQueue) push(e *structs.Evaluation) {
	q.mu.Lock()
	q.q = append(q.q, e)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop returns the oldest evaluation, waiting for one, and takes out of the
// queue every other evaluation of the same job: one scheduler run answers
// them all (a node storm queues one evaluation per node for a job that runs
// everywhere). A delayed follow-up (WaitUntil set) behind the first is not
// taken: the scheduler reschedules the allocations that name it only when
// it runs under its own ID. It returns nil when ctx ends.
func (q *evalQueue) pop(ctx context.Context) (*structs.Evaluation, []*structs.Evaluation) {
	for {
		q.mu.Lock()
		if len(q.q) > 0 {
			e := q.q[0]
			var dups []*structs.Evaluation
			rest := q.q[:0]
			for _, o := range q.q[1:] {
				if o.Namespace == e.Namespace && o.JobID == e.JobID && o.WaitUntil == 0 {
					dups = append(dups, o)
				} else {
					rest = append(rest, o)
				}
			}
			clear(q.q[len(rest):])
			q.q = rest
			q.mu.Unlock()
			return e, dups
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func (q *evalQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.q)
}

// publisher collects the nodes whose desired state must be published; many
// marks of one node before the publisher runs cost one publication.
type publisher struct {
	mu    sync.Mutex // guards dirty
	dirty map[string]struct{}
	ready chan struct{}
}

func newPublisher() *publisher {
	return &publisher{dirty: map[string]struct{}{}, ready: make(chan struct{}, 1)}
}

func (p *publisher) mark(nodes ...string) {
	if len(nodes) == 0 {
		return
	}
	p.mu.Lock()
	for _, n := range nodes {
		p.dirty[n] = struct{}{}
	}
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// take waits for marked nodes and returns them; nil when ctx ends.
func (p *publisher) take(ctx context.Context) []string {
	for {
		p.mu.Lock()
		if len(p.dirty) > 0 {
			out := make([]string, 0, len(p.dirty))
			for n := range p.dirty {
				out = append(out, n)
			}
			p.dirty = map[string]struct{}{}
			p.mu.Unlock()
			return out
		}
		p.mu.Unlock()
		select {
		case <-p.ready:
		case <-ctx.Done():
			return nil
		}
	}
}
