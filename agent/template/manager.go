package template

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/protocol"
)

// DefaultFirstWait is how long the first render waits for the services a
// template uses to be known (received from the broker or cached). Past
// it, the template renders with what there is (unknown = no instances), so
// a node cut off on its first boot still starts its tasks.
const DefaultFirstWait = 5 * time.Second

// Config is what a Manager needs.
type Config struct {
	Templates []protocol.Template
	Paths     Paths        // Interpolate defaults to Env.Replace
	Env       *taskenv.Env // the task's environment and node data
	Services  *svccache.Cache
	FirstWait time.Duration // 0: DefaultFirstWait
	Logger    *slog.Logger
	// Splay picks the wait before a change_mode action, at most max
	// (nil: uniformly random).
	Splay func(max time.Duration) time.Duration
}

// Action is what the task runner must do after templates changed.
type Action struct {
	Restart bool     // a changed template has change_mode restart
	Signals []string // distinct signals of changed change_mode signal templates
	Changed []string // destinations whose content changed
	Errors  []string // templates that failed to render (their old file stays)
}

func (a Action) empty() bool {
	return !a.Restart && len(a.Signals) == 0 && len(a.Changed) == 0 && len(a.Errors) == 0
}

func (a Action) merge(b Action) Action {
	a.Restart = a.Restart || b.Restart
	for _, s := range b.Signals {
		if !slices.Contains(a.Signals, s) {
			a.Signals = append(a.Signals, s)
		}
	}
	for _, c := range b.Changed {
		if !slices.Contains(a.Changed, c) {
			a.Changed = append(a.Changed, c)
		}
	}
	a.Errors = append(a.Errors, b.Errors...)
	return a
}

// Manager renders one task's templates and keeps them current.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	tmpls   []*Template
	watch   *svccache.Watcher
	actions chan Action // capacity 1; only Run sends

	mu   sync.Mutex          // guards envs
	envs []map[string]string // per template: its KEY=VALUE pairs (env = true)

	// renderMu serialises renderAll between Run and Refresh (the files,
	// and the watch's service list).
	renderMu sync.Mutex
}

// New parses the templates. An error wraps ErrInvalid and names the
// template (and the line, for a template that does not parse).
func New(cfg Config) (*Manager, error) {
	if cfg.Services == nil {
		cfg.Services = svccache.New(nil, cfg.Logger)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FirstWait <= 0 {
		cfg.FirstWait = DefaultFirstWait
	}
	if cfg.Splay == nil {
		cfg.Splay = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(max)))
		}
	}
	if cfg.Paths.Interpolate == nil && cfg.Env != nil {
		cfg.Paths.Interpolate = cfg.Env.Replace
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, actions: make(chan Action, 1), envs: make([]map[string]string, len(cfg.Templates))}
	var names []string
	for _, spec := range cfg.Templates {
		t, err := Parse(spec, cfg.Paths)
		if err != nil {
			return nil, err
		}
		m.tmpls = append(m.tmpls, t)
		names = append(names, t.Services()...)
	}
	m.watch = cfg.Services.Watch(names...)
	return m, nil
}

// Close stops watching the service cache.
func (m *Manager) Close() { m.watch.Close() }

// Actions delivers what to do after a re-render changed something.
func (m *Manager) Actions() <-chan Action { return m.actions }

// DrainActions drops an undelivered action: the task is (re)starting with
// the current files anyway.
func (m *Manager) DrainActions() {
	select {
	case <-m.actions:
	default:
	}
}

// Env returns the variables of env = true templates, later templates
// winning.
func (m *Manager) Env() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, e := range m.envs {
		maps.Copy(out, e)
	}
	return out
}

// lookupEnv is env "k": the task's environment, and attr.X, meta.X,
// node.* of the node.
func (m *Manager) lookupEnv(k string) string {
	if m.cfg.Env == nil {
		return ""
	}
	if v, ok := m.cfg.Env.Vars[k]; ok {
		return v
	}
	if strings.HasPrefix(k, "attr.") || strings.HasPrefix(k, "meta.") || strings.HasPrefix(k, "node.") {
		v, _ := m.cfg.Env.Resolve(k)
		return v
	}
	return ""
}

type lookup struct{ m *Manager }

func (l lookup) Service(name string) (protocol.ServiceSet, bool) { return l.m.cfg.Services.Get(name) }
func (l lookup) Env(k string) string                             { return l.m.lookupEnv(k) }

// Prerender renders every template before the task starts: it waits up to
// FirstWait for the services they use, renders, writes the files and reads
// env templates. Any error fails the task; it names the template and, for
// a template that does not execute, the line. The Action says which files
// changed on disk and what their change_mode asks (it matters only to a
// task that is already running: one re-attached after an agent restart).
func (m *Manager) Prerender(ctx context.Context) (Action, error) {
	deadline := time.Now().Add(m.cfg.FirstWait)
	var act Action
	for round := 0; ; round++ {
		if err := m.waitKnown(ctx, deadline); err != nil {
			return act, err
		}
		// Take pending change signals before rendering, not after: a
		// change that lands during the render stays signalled, so Run
		// renders again instead of leaving the file stale.
		select {
		case <-m.watch.C():
		default:
		}
		changed, used, errs := m.renderAll()
		if len(errs) > 0 {
			return act, errors.Join(errs...)
		}
		act = act.merge(actionFor(changed, nil))
		m.watch.Add(used...)
		if m.watch.Known() || round == 2 || time.Now().After(deadline) {
			break
		}
	}
	return act, nil
}

func (m *Manager) waitKnown(ctx context.Context, deadline time.Time) error {
	if m.watch.Known() {
		return nil
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !m.watch.Known() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			m.log.Warn("rendering templates without data for some services: nothing received or cached for them yet", "services", m.cfg.Services.Names())
			return nil
		case <-m.watch.C():
		}
	}
	return nil
}

// Refresh renders every template again from the service cache as it is
// now (fed by the site broker, or the agent's own copy without one) and
// rewrites any file that differs from it or is missing. The task runner
// calls it before restarting a task, so a restarted task reads files
// rendered now, even with central unreachable. A render error keeps the
// previous files; it is returned for the task's events.
func (m *Manager) Refresh() error {
	_, used, errs := m.renderAll()
	m.watch.Add(used...)
	return errors.Join(errs...)
}

// renderAll renders every template and writes the ones that changed.
func (m *Manager) renderAll() (changed []*Template, used []string, errs []error) {
	m.renderMu.Lock()
	defer m.renderMu.Unlock()
	l := lookup{m}
	for i, t := range m.tmpls {
		out, u, err := t.Render(l)
		used = append(used, u...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Spec.Env {
			env, err := ParseEnv(t.Name, out)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.mu.Lock()
			m.envs[i] = env
			m.mu.Unlock()
		}
		ch, err := t.write(out, m.cfg.Paths)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch {
			changed = append(changed, t)
		}
	}
	return changed, used, errs
}

// Run keeps the templates current until ctx is done: on every change of a
// service they use it renders them again, and if a file changed, after a
// random splay (at most the largest splay of the changed templates) it
// delivers the Action on Actions.
func (m *Manager) Run(ctx context.Context) {
	var pending Action
	var timer *time.Timer
	var timerC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timerC:
			timerC = nil
			m.deliver(pending)
			pending = Action{}
		case <-m.watch.C():
			changed, used, errs := m.renderAll()
			m.watch.Add(used...)
			act := actionFor(changed, errs)
			if act.empty() {
				continue
			}
			pending = pending.merge(act)
			if timerC != nil {
				continue // merged into the action already waiting
			}
			var splay time.Duration
			if pending.Restart || len(pending.Signals) > 0 {
				splay = m.cfg.Splay(maxSplay(changed))
			}
			if splay <= 0 {
				m.deliver(pending)
				pending = Action{}
				continue
			}
			timer = time.NewTimer(splay)
			timerC = timer.C
		}
	}
}

func (m *Manager) deliver(a Action) {
	select {
	case old := <-m.actions:
		a = old.merge(a)
	default:
	}
	m.actions <- a // never blocks: capacity 1 and Run is the only sender
}

func actionFor(changed []*Template, errs []error) Action {
	var a Action
	for _, t := range changed {
		a.Changed = append(a.Changed, t.Name)
		switch t.Spec.ChangeMode {
		case "", ChangeRestart:
			a.Restart = true
		case ChangeSignal:
			sig := t.Spec.ChangeSignal
			if sig == "" {
				sig = DefaultSignal
			}
			if !slices.Contains(a.Signals, sig) {
				a.Signals = append(a.Signals, sig)
			}
		}
	}
	for _, err := range errs {
		a.Errors = append(a.Errors, err.Error())
	}
	return a
}

func maxSplay(ts []*Template) time.Duration {
	var d time.Duration
	for _, t := range ts {
		d = max(d, time.Duration(t.Spec.SplayMs)*time.Millisecond)
	}
	return d
}

// String describes an action for a task event.
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "template %s changed", strings.Join(a.Changed, ", "))
	return b.String()
}
