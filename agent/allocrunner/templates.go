package allocrunner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tether-edge/tether/agent/template"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// eventSignaling is Nomad's event for a signal sent to a task.
const eventSignaling = "Signaling"

// startTemplates parses and renders the task's templates before its first
// start (or its re-attach), then keeps them current in the background
// until the task runner returns. A template that does not parse or render
// fails the task: false means the runner is done. The action says what
// changed on disk (it matters when re-attaching to a running task).
func (t *taskRunner) startTemplates(ctx context.Context) (template.Action, bool) {
	r := t.r
	dirs := r.taskDirs(t.task)
	m, err := template.New(template.Config{
		Templates: t.task.Templates,
		Paths:     template.Paths{TaskDir: r.AllocDir() + "/" + t.task.Name, AllocDir: dirs.AllocDir},
		Env:       r.taskEnv(t.task),
		Services:  r.cfg.Services,
		FirstWait: r.cfg.TemplateWait,
		Logger:    t.log,
	})
	if err != nil {
		t.dead(ctx, true, t.event(protocol.EventFailedValidate, err.Error()))
		return template.Action{}, false
	}
	// Rendering may wait for service data: a kill must not wait for it.
	pctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-t.killCh:
			cancel()
		case <-pctx.Done():
		}
	}()
	action, err := m.Prerender(pctx)
	cancel()
	if err != nil {
		m.Close()
		if ctx.Err() != nil {
			return action, false
		}
		select {
		case <-t.killCh:
			t.killedWhileDown(ctx)
			return action, false
		default:
		}
		msg := "template: " + err.Error()
		if errors.Is(err, template.ErrInvalid) {
			t.dead(ctx, true, t.event(protocol.EventFailedValidate, msg))
		} else {
			t.dead(ctx, true, t.event(protocol.EventSetupFailure, msg))
		}
		return action, false
	}
	t.tmpl = m
	go func() {
		mctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			select {
			case <-t.runDone:
				stop()
			case <-mctx.Done():
			}
		}()
		m.Run(mctx)
	}()
	return action, true
}

// actions is the template manager's channel, nil without templates.
func (t *taskRunner) actions() <-chan template.Action {
	if t.tmpl == nil {
		return nil
	}
	return t.tmpl.Actions()
}

// templateChanged applies a re-render's change_mode to the running task
// h: restart (stop it; the caller starts it again; not counted against
// the restart policy), signal (or a restart if the driver cannot signal),
// or just an event. restarted says the task was stopped to be started
// again; ok is false if the runner is done.
func (t *taskRunner) templateChanged(ctx context.Context, h drivers.Handle, a template.Action) (restarted, ok bool) {
	var evs []protocol.TaskEvent
	for _, e := range a.Errors {
		evs = append(evs, t.event(protocol.EventTemplateRender, "re-render failed, previous file kept: "+e))
	}
	if len(a.Changed) > 0 {
		evs = append(evs, t.event(protocol.EventTemplateRender, "Template re-rendered: "+strings.Join(a.Changed, ", ")))
	}
	restart := a.Restart
	if !restart && len(a.Signals) > 0 {
		sig, ok := h.(drivers.Signaler)
		if !ok {
			evs = append(evs, t.event(eventSignaling, fmt.Sprintf("driver %s cannot send %s: restarting the task instead", t.task.Driver, strings.Join(a.Signals, ", "))))
			restart = true
		} else {
			for _, s := range a.Signals {
				msg := "Template re-rendered: sent " + s
				if err := sig.Signal(s); err != nil {
					msg = fmt.Sprintf("Template re-rendered: sending %s failed: %v", s, err)
				}
				evs = append(evs, t.event(eventSignaling, msg))
			}
		}
	}
	if !restart {
		return false, t.report(ctx, evs...)
	}
	evs = append(evs, t.event(protocol.EventRestartSignal, "Template with change_mode restart re-rendered"))
	if !t.report(ctx, evs...) {
		return false, false
	}
	err := h.Stop(t.killTimeout(), t.task.KillSignal)
	t.deleteHandle()
	if err != nil {
		t.log.Warn("stopping task for a template restart", "err", err)
	}
	t.state.State = protocol.TaskPending
	t.state.Restarts++
	return true, t.report(ctx, t.event(protocol.EventRestarting, "Template changed: restarting now (not counted against the restart policy)"))
}

// refreshTemplates renders the templates again before a restart (a file
// removed or edited meanwhile is written anew). A failure keeps the
// previous files and is recorded as an event; the task starts anyway.
func (t *taskRunner) refreshTemplates(ctx context.Context) {
	if err := t.tmpl.Refresh(); err != nil {
		t.log.Warn("re-rendering templates before a restart failed; previous files kept", "err", err)
		t.report(ctx, t.event(protocol.EventTemplateRender, "re-render before restart failed, previous file kept: "+err.Error()))
	}
}
