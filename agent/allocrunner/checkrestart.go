package allocrunner

import (
	"context"
	"errors"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// errCheckRestart is the exit result of a task stopped by check_restart:
// a failure, counted by the restart policy as Nomad counts it.
var errCheckRestart = errors.New("stopped by check_restart")

// checkRestartReq asks a task runner to restart its task because a check
// kept failing; startedAt tells a request about an earlier run (the task
// restarted meanwhile) from one about the current run.
type checkRestartReq struct {
	reason    string
	startedAt int64
}

// askCheckRestart passes a check_restart request to the task runner; it
// never blocks (one pending request is enough).
func (t *taskRunner) askCheckRestart(req checkRestartReq) {
	select {
	case t.checkRestart <- req:
	default:
	}
}

// checkRestarted stops the running task h for check_restart and applies
// the restart policy to it as to a failure: it counts as an attempt, and
// past the attempts the task fails. A request about an earlier run is
// dropped (stale: false, ok: true). Otherwise restarted says the task is
// to be started again; ok is false when the runner is done.
func (t *taskRunner) checkRestarted(ctx context.Context, h drivers.Handle, req checkRestartReq) (restarted, ok bool) {
	if req.startedAt != t.state.StartedAt {
		return false, true
	}
	if !t.report(ctx, t.event(protocol.EventRestartSignal, req.reason)) {
		return false, false
	}
	if err := h.Stop(t.killTimeout(), t.task.KillSignal); err != nil {
		t.log.Warn("stopping task for check_restart", "err", err)
	}
	t.deleteHandle()
	ev := t.event(protocol.EventTerminated, "Killed by check_restart: "+req.reason)
	ev.ExitCode = -1
	return true, t.afterExit(ctx, drivers.ExitResult{ExitCode: -1, Err: errCheckRestart}, ev)
}
