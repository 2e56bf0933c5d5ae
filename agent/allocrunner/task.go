package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/agent/template"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// taskRunner runs one task: start (or re-attach), wait, restart per policy,
// kill on request. It owns its state and handle; it reports every change to
// its Runner.
type taskRunner struct {
	r        *Runner
	task     *protocol.Task
	driver   drivers.Driver // nil: unknown driver
	known    []string       // registered driver names, for the error
	isNew    bool           // a new allocation, not restored
	setupErr error
	saved    *drivers.HandleState // to Recover
	tracker  restartTracker
	log      *slog.Logger

	state protocol.TaskState
	tmpl  *template.Manager // nil: the task has no templates

	killOnce   sync.Once
	killCh     chan struct{}
	startOnce  sync.Once
	startCh    chan struct{} // closed when the lifecycle coordinator lets the task start
	runDone    chan struct{} // closed when run returns: stops the template manager
	killReason string        // event type to record before Killing ("" none); written before killCh closes
	// checkRestart carries check_restart's requests (checkrestart.go).
	checkRestart chan checkRestartReq
	// actions carries an operator's restart and signal requests (actions.go).
	opActions chan protocol.AllocAction
}

// kill asks the task to stop; reason is an extra event type recorded first
// (Sibling Task Failed), or "".
func (t *taskRunner) kill(reason string) {
	t.killOnce.Do(func() {
		t.killReason = reason
		close(t.killCh)
	})
}

// letStart lets the task start (its lifecycle turn has come).
func (t *taskRunner) letStart() { t.startOnce.Do(func() { close(t.startCh) }) }

// waitTurn waits for the coordinator to let the task start; false if it
// was killed first (recorded) or ctx ended.
func (t *taskRunner) waitTurn(ctx context.Context) bool {
	select {
	case <-t.killCh:
		t.killedWhileDown(ctx)
		return false
	default:
	}
	select {
	case <-t.startCh:
		return true
	case <-t.killCh:
		t.killedWhileDown(ctx)
		return false
	case <-ctx.Done():
		return false
	}
}

func (t *taskRunner) now() time.Time { return t.r.cfg.Now() }

func (t *taskRunner) event(typ, msg string) protocol.TaskEvent {
	return protocol.TaskEvent{Type: typ, Time: t.now().UnixMilli(), Message: msg}
}

// report sends the task's state to its Runner; false if ctx ended.
func (t *taskRunner) report(ctx context.Context, evs ...protocol.TaskEvent) bool {
	for _, ev := range evs {
		addEvent(&t.state, ev)
	}
	select {
	case t.r.taskCh <- taskUpdate{name: t.task.Name, state: copyTaskState(t.state)}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *taskRunner) dead(ctx context.Context, failed bool, evs ...protocol.TaskEvent) {
	t.state.State = protocol.TaskDead
	t.state.Failed = failed
	t.state.FinishedAt = t.now().UnixMilli()
	t.report(ctx, evs...)
}

func (t *taskRunner) run(ctx context.Context) {
	defer close(t.runDone)
	if t.setupErr != nil {
		t.dead(ctx, true, t.event(protocol.EventSetupFailure, t.setupErr.Error()))
		return
	}
	if t.driver == nil {
		t.dead(ctx, true, t.event(protocol.EventDriverFailure,
			fmt.Sprintf("unknown driver %q (known: %s): change the task's driver or enable the driver on this node", t.task.Driver, strings.Join(t.known, ", "))))
		return
	}
	if t.saved == nil && !t.waitTurn(ctx) { // a re-attached task had its turn
		return
	}
	if t.saved == nil && len(t.task.Artifacts) > 0 && !t.fetchArtifacts(ctx) {
		return
	}
	if t.saved == nil && t.task.DispatchFile != "" && !t.writePayload(ctx) { // payload.go
		return
	}
	var reattachAction *template.Action // templates that changed while the agent was down
	if len(t.task.Templates) > 0 {
		a, ok := t.startTemplates(ctx)
		if !ok {
			return
		}
		defer t.tmpl.Close()
		if t.saved != nil && (a.Restart || len(a.Signals) > 0) {
			reattachAction = &a
		}
	}
	var h drivers.Handle
	started := t.saved != nil // a start after this one is a restart
	if t.saved != nil {
		var err error
		h, err = t.driver.Recover(ctx, *t.saved)
		if ctx.Err() != nil {
			return
		}
		t.saved = nil
		if err == nil {
			t.r.live.Store(t.task.Name, h)
			t.state.State = protocol.TaskRunning
			if !t.report(ctx, t.event(protocol.EventReattached, "re-attached after agent restart")) {
				return
			}
			if reattachAction != nil {
				restarted, ok := t.templateChanged(ctx, h, *reattachAction)
				if !ok {
					return
				}
				if restarted {
					h = nil
				}
			}
		} else {
			if !errors.Is(err, drivers.ErrTaskGone) {
				t.log.Warn("cannot re-attach to task; treating it as exited", "err", err)
			}
			t.deleteHandle()
			ev := t.event(protocol.EventTerminated, "task exited while the agent was down (exit code unknown): "+err.Error())
			ev.ExitCode = -1
			if !t.afterExit(ctx, drivers.ExitResult{ExitCode: -1, Err: err}, ev) {
				return
			}
			h = nil
		}
	} else if t.isNew {
		if !t.report(ctx, t.event(protocol.EventReceived, "Task received by client"), t.event(protocol.EventTaskSetup, "Building Task Directory")) {
			return
		}
	}
	for {
		if h == nil {
			select {
			case <-t.killCh:
				t.killedWhileDown(ctx)
				return
			default:
			}
			var err error
			var extra map[string]string
			if t.tmpl != nil {
				if started {
					t.refreshTemplates(ctx) // templates.go
				}
				t.tmpl.DrainActions() // the files are current: this start reads them
				extra = t.tmpl.Env()
			}
			h, err = t.driver.Start(ctx, t.r.taskConfig(t.task, extra))
			if ctx.Err() != nil {
				if h != nil {
					t.putHandle(h) // started just as we detach: keep it re-attachable
				}
				return
			}
			if err != nil {
				if !t.afterExit(ctx, drivers.ExitResult{ExitCode: -1, Err: err}, t.event(protocol.EventDriverFailure, err.Error())) {
					return
				}
				continue
			}
			t.putHandle(h)
			started = true
			t.state.State = protocol.TaskRunning
			t.state.StartedAt = t.now().UnixMilli()
			if !t.report(ctx, t.event(protocol.EventStarted, "Task started by client")) {
				return
			}
		}
		select {
		case a := <-t.actions():
			restarted, ok := t.templateChanged(ctx, h, a)
			if !ok {
				return
			}
			if restarted {
				h = nil
			}
		case req := <-t.checkRestart:
			restarted, ok := t.checkRestarted(ctx, h, req) // checkrestart.go
			if !ok {
				return
			}
			if restarted {
				h = nil
			}
		case ac := <-t.opActions:
			restarted, ok := t.operatorAction(ctx, h, ac) // actions.go
			if !ok {
				return
			}
			if restarted {
				h = nil
			}
		case res := <-h.Wait():
			t.deleteHandle()
			h = nil
			ev := t.event(protocol.EventTerminated, exitMessage(res))
			ev.ExitCode, ev.Signal = res.ExitCode, res.Signal
			t.state.ExitCode = res.ExitCode
			if !t.afterExit(ctx, res, ev) {
				return
			}
		case <-t.killCh:
			t.stopTask(ctx, h)
			return
		case <-ctx.Done():
			return // detach: the task keeps running
		}
	}
}

// afterExit records the exit and applies the restart policy. It returns
// true when the task is to be started again (after the delay has passed),
// false when the runner is done (dead, killed or detached).
func (t *taskRunner) afterExit(ctx context.Context, res drivers.ExitResult, exitEv protocol.TaskEvent) bool {
	if res.Successful() && !restartOnSuccess(t.r.alloc, t.task) {
		t.dead(ctx, false, exitEv)
		return false
	}
	delay, again, reason := t.tracker.next(t.now())
	if !again {
		t.dead(ctx, true, exitEv, t.event(protocol.EventNotRestarting, reason))
		return false
	}
	t.state.State = protocol.TaskPending
	t.state.Restarts++
	if !t.report(ctx, exitEv, t.event(protocol.EventRestarting, reason)) {
		return false
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.killCh:
		t.killedWhileDown(ctx)
		return false
	case <-ctx.Done():
		return false
	}
}

// killedWhileDown records a kill that found the task not running.
func (t *taskRunner) killedWhileDown(ctx context.Context) {
	var evs []protocol.TaskEvent
	if t.killReason != "" {
		evs = append(evs, t.event(t.killReason, ""))
	}
	t.dead(ctx, false, append(evs, t.event(protocol.EventKilled, "Task was not running"))...)
}

// stopTask kills a running task with its kill signal and timeout.
func (t *taskRunner) stopTask(ctx context.Context, h drivers.Handle) {
	var evs []protocol.TaskEvent
	if t.killReason != "" {
		evs = append(evs, t.event(t.killReason, ""))
	}
	timeout := t.killTimeout()
	if !t.report(ctx, append(evs, t.event(protocol.EventKilling, fmt.Sprintf("Sent interrupt. Waiting %s before force killing", timeout)))...) {
		return
	}
	err := h.Stop(timeout, t.task.KillSignal)
	t.deleteHandle()
	msg := ""
	if err != nil {
		msg = "stop: " + err.Error()
		t.log.Warn("stopping task", "err", err)
	}
	t.dead(ctx, false, t.event(protocol.EventKilled, msg))
}

func (t *taskRunner) killTimeout() time.Duration {
	timeout := time.Duration(t.task.KillTimeout) * time.Millisecond
	if timeout <= 0 {
		timeout = DefaultKillTimeout
	}
	return timeout
}

func (t *taskRunner) putHandle(h drivers.Handle) {
	t.r.live.Store(t.task.Name, h)
	if err := t.r.cfg.Store.PutHandle(t.r.alloc.ID, t.task.Name, h.State()); err != nil {
		t.log.Error("saving task handle; the task cannot be re-attached after an agent restart", "err", err)
	}
}

func (t *taskRunner) deleteHandle() {
	t.r.live.Delete(t.task.Name)
	if err := t.r.cfg.Store.DeleteHandle(t.r.alloc.ID, t.task.Name); err != nil {
		t.log.Warn("deleting task handle", "err", err)
	}
}

func exitMessage(res drivers.ExitResult) string {
	switch {
	case res.Err != nil:
		return "exit code unknown: " + res.Err.Error()
	case res.OOMKilled:
		return "OOM killed"
	case res.Signal != 0:
		return fmt.Sprintf("Exit Code: %d, Signal: %d", res.ExitCode, res.Signal)
	}
	return fmt.Sprintf("Exit Code: %d", res.ExitCode)
}
