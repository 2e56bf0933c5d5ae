package allocrunner

import (
	"context"
	"fmt"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// Operator actions (central alloc restart|signal): the agent hands each
// new one to the allocation's Runner once (Act), which passes it to the
// task runners it names (every running task when it names none). A task
// runner applies it to its running task and records task events, as
// Nomad's: "Restart Signaled" then "Restarting" for a restart (which does
// not count against the restart policy's attempts, but does count in the
// task's restarts), "Signaling" for a signal.

// Act passes an operator action to the Runner; it never blocks (a Runner
// that has finished, or has MaxAllocActions waiting, drops it).
func (r *Runner) Act(ac protocol.AllocAction) {
	select {
	case r.actCh <- ac:
	default:
		r.log.Warn("operator action dropped: the allocation is not taking actions", "kind", ac.Kind, "seq", ac.Seq)
	}
}

// dispatchAction hands ac to the task runners it names, on the Run
// goroutine. A named task that is not running gets nothing: the action
// is logged and dropped, as Nomad refuses it.
func (r *Runner) dispatchAction(ctx context.Context, ac protocol.AllocAction) {
	for _, t := range r.alloc.Tasks {
		if ac.Task != "" && t.Name != ac.Task {
			continue
		}
		tr := r.runners[t.Name]
		if tr == nil || r.states[t.Name].State != protocol.TaskRunning {
			if ac.Task != "" {
				r.log.Warn("operator action for a task that is not running: dropped", "task", t.Name, "kind", ac.Kind, "seq", ac.Seq)
			}
			continue
		}
		select {
		case tr.opActions <- ac:
		case <-ctx.Done():
			return
		default:
			r.log.Warn("operator action dropped: the task has too many waiting", "task", t.Name, "kind", ac.Kind, "seq", ac.Seq)
		}
	}
}

// operatorAction applies ac to the running task h. restarted says the
// task was stopped to be started again at once; ok is false if the runner
// is done.
func (t *taskRunner) operatorAction(ctx context.Context, h drivers.Handle, ac protocol.AllocAction) (restarted, ok bool) {
	switch ac.Kind {
	case protocol.ActionSignal:
		sig, can := h.(drivers.Signaler)
		msg := fmt.Sprintf("Signal %s sent by an operator (alloc signal, request %d)", ac.Signal, ac.Seq)
		switch {
		case !can:
			msg = fmt.Sprintf("Signal %s not sent: the %s driver cannot deliver signals (request %d); use alloc restart", ac.Signal, t.task.Driver, ac.Seq)
		default:
			if err := sig.Signal(ac.Signal); err != nil {
				msg = fmt.Sprintf("Signal %s failed (request %d): %v", ac.Signal, ac.Seq, err)
			}
		}
		return false, t.report(ctx, t.event(eventSignaling, msg))
	case protocol.ActionRestart:
		if !t.report(ctx, t.event(protocol.EventRestartSignal, fmt.Sprintf("Restart requested by an operator (alloc restart, request %d)", ac.Seq))) {
			return false, false
		}
		err := h.Stop(t.killTimeout(), t.task.KillSignal)
		t.deleteHandle()
		if err != nil {
			t.log.Warn("stopping task for an operator restart", "err", err)
		}
		t.state.State = protocol.TaskPending
		t.state.Restarts++
		return true, t.report(ctx, t.event(protocol.EventRestarting, "Restarting now at an operator's request (not counted against the restart policy)"))
	}
	t.log.Warn("unknown operator action ignored", "kind", ac.Kind, "seq", ac.Seq)
	return false, true
}
