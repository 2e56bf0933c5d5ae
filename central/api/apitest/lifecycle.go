package apitest

import (
	"context"
	"fmt"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
)

var _ api.LifecycleBackend = (*Backend)(nil)

// AllocAction implements api.LifecycleBackend: it appends the action to
// the allocation's Actions with the next Seq.
func (b *Backend) AllocAction(ctx context.Context, allocID string, ac structs.AllocAction) (uint64, uint64, error) {
	b.mu.Lock()
	old := b.allocs[allocID]
	b.mu.Unlock()
	if old == nil {
		return 0, 0, fmt.Errorf("%w: allocation %q", api.ErrConflict, allocID)
	}
	ac.Seq = 1
	if n := len(old.Actions); n > 0 {
		ac.Seq = old.Actions[n-1].Seq + 1
	}
	b.UpdateAlloc(allocID, func(a *structs.Allocation) {
		a.Actions = append(append([]structs.AllocAction(nil), a.Actions...), ac)
	})
	return ac.Seq, b.Index("allocs"), nil
}

// StopAlloc implements api.LifecycleBackend: it marks the allocation
// desired stop and stores a pending evaluation of its job.
func (b *Backend) StopAlloc(ctx context.Context, allocID, by string) (string, uint64, error) {
	b.mu.Lock()
	old := b.allocs[allocID]
	b.mu.Unlock()
	if old == nil {
		return "", 0, fmt.Errorf("%w: allocation %q", api.ErrConflict, allocID)
	}
	b.UpdateAlloc(allocID, func(a *structs.Allocation) {
		a.DesiredStatus = "stop"
		a.Events = append(append([]structs.AllocEvent(nil), a.Events...), structs.AllocEvent{Type: "Stopped", Message: "stopped by " + by})
	})
	e := &structs.Evaluation{ID: NewID(), Namespace: old.Namespace, JobID: old.JobID, TriggeredBy: "alloc-stop", Status: structs.EvalPending}
	b.PutEval(e)
	return e.ID, b.Index("evals"), nil
}
