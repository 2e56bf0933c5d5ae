package allocrunner

import (
	"sync"
	"time"

	"github.com/tether-edge/tether/agent/health"
	"github.com/tether-edge/tether/protocol"
)

// deployHealth decides the allocation's health in its deployment (the
// desired alloc's Health policy) with agent/health's Tracker, and keeps
// the verdict: every update after it carries it, so it survives the
// outbox's compaction, an outage and (recorded with the client state) an
// agent restart. Owned by the Run goroutine, except pending (mu).
type deployHealth struct {
	mu      sync.Mutex
	pending *deployment // the agent's newest, for the Run goroutine to take
	once    sync.Once
	poke    chan struct{}

	inited   bool
	id       string
	policy   *protocol.HealthPolicy
	tracker  *health.Tracker       // nil: nothing to decide (no policy, manual, decided, stopping)
	reported *protocol.AllocHealth // the verdict, once there is one
	timer    *time.Timer
	timerC   <-chan time.Time // nil while no wake-up is due
}

type deployment struct {
	id     string
	policy *protocol.HealthPolicy
}

func (d *deployHealth) pokeCh() chan struct{} {
	d.once.Do(func() { d.poke = make(chan struct{}, 1) })
	return d.poke
}

// DeploymentChanged reports whether a new desired version of a running
// allocation moves it to another deployment or health policy (an
// in-place update): its runner is then told with SetDeployment.
func DeploymentChanged(old, cur *protocol.DesiredAlloc) bool {
	if old.DeploymentID != cur.DeploymentID {
		return true
	}
	if (old.Health == nil) != (cur.Health == nil) {
		return true
	}
	return old.Health != nil && *old.Health != *cur.Health
}

// SetDeployment tells the Runner its allocation now belongs to deployment
// id with health policy p: its health is decided anew (an in-place update
// by a new deployment). It never blocks; safe from any goroutine.
func (r *Runner) SetDeployment(id string, p *protocol.HealthPolicy) {
	d := &r.dh
	d.mu.Lock()
	d.pending = &deployment{id: id, policy: p}
	d.mu.Unlock()
	select {
	case d.pokeCh() <- struct{}{}:
	default:
	}
}

// takeDeployment applies the deployment SetDeployment gave; it reports
// whether anything changed.
func (r *Runner) takeDeployment() bool {
	d := &r.dh
	d.mu.Lock()
	p := d.pending
	d.pending = nil
	d.mu.Unlock()
	r.initHealth()
	if p == nil || (p.id == d.id && samePolicy(p.policy, d.policy)) {
		return false
	}
	r.log.Info("allocation moved to a new deployment; deciding its health anew", "deployment", p.id)
	r.trackHealth(p.id, p.policy, nil)
	return true
}

func samePolicy(a, b *protocol.HealthPolicy) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// initHealth starts tracking from the desired alloc and, after an agent
// restart, the verdict recorded before it.
func (r *Runner) initHealth() {
	if r.dh.inited {
		return
	}
	r.dh.inited = true
	var prev *protocol.AllocHealth
	if r.cfg.Prev != nil {
		prev = r.cfg.Prev.Health
	}
	r.trackHealth(r.alloc.DeploymentID, r.alloc.Health, prev)
}

// trackHealth starts deciding the health for deployment id, unless prev
// already is the verdict for it.
func (r *Runner) trackHealth(id string, p *protocol.HealthPolicy, prev *protocol.AllocHealth) {
	d := &r.dh
	d.id, d.policy, d.tracker, d.reported = id, p, nil, nil
	switch {
	case id == "" || p == nil:
	case prev != nil && prev.DeploymentID == id:
		h := *prev
		d.reported = &h // decided before the agent restarted: not again
	case p.Mode == protocol.HealthManual:
		// an operator decides
	default:
		d.tracker = health.NewTracker(health.Policy{
			Checks:     p.Mode != protocol.HealthTaskStates,
			MinHealthy: time.Duration(p.MinHealthyMs) * time.Millisecond,
			Deadline:   time.Duration(p.DeadlineMs) * time.Millisecond,
		}, r.cfg.Now())
	}
	r.armHealth()
}

// healthForUpdate observes the allocation as it is now and returns the
// verdict to send with its update (nil: none yet).
func (r *Runner) healthForUpdate() *protocol.AllocHealth {
	r.initHealth()
	d := &r.dh
	if d.tracker != nil && r.stopping {
		d.tracker = nil // stopped by central: no verdict (as Nomad)
	}
	if d.tracker != nil {
		r.settle(d.tracker.Observe(r.cfg.Now(), r.healthObs()))
	}
	r.armHealth()
	if d.reported == nil {
		return nil
	}
	h := *d.reported
	return &h
}

// healthDue is called when the wake-up fires: it reports whether a
// verdict was reached (the caller then emits it).
func (r *Runner) healthDue() bool {
	d := &r.dh
	d.timerC = nil
	if d.tracker == nil || r.stopping {
		return false
	}
	decided := r.settle(d.tracker.Check(r.cfg.Now()))
	r.armHealth()
	return decided
}

// settle records a verdict; it reports whether there was one.
func (r *Runner) settle(v *health.Decision) bool {
	d := &r.dh
	if v == nil {
		return false
	}
	d.reported = &protocol.AllocHealth{Healthy: v.Healthy, Time: v.Time.UnixMilli(), Reason: v.Reason, DeploymentID: d.id}
	d.tracker = nil
	if v.Healthy {
		r.log.Info("allocation healthy in its deployment", "deployment", d.id)
	} else {
		r.log.Warn("allocation unhealthy in its deployment", "deployment", d.id, "reason", v.Reason)
	}
	return true
}

// armHealth sets the wake-up to the tracker's next moment.
func (r *Runner) armHealth() {
	d := &r.dh
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timerC = nil
	if d.tracker == nil {
		return
	}
	next := d.tracker.Next()
	if next.IsZero() {
		return
	}
	wait := max(next.Sub(r.cfg.Now()), 0)
	if d.timer == nil {
		d.timer = time.NewTimer(wait)
	} else {
		d.timer.Reset(wait)
	}
	d.timerC = d.timer.C
}

// stopHealth releases the wake-up timer when Run returns.
func (r *Runner) stopHealth() {
	if r.dh.timer != nil {
		r.dh.timer.Stop()
	}
}

// healthObs is the tracker's view of the allocation: its tasks' states
// and whether every check of the services of the tasks that count passed.
func (r *Runner) healthObs() health.Obs {
	o := health.Obs{ChecksPassing: true}
	for i := range r.alloc.Tasks {
		t := &r.alloc.Tasks[i]
		st := r.states[t.Name]
		o.Tasks = append(o.Tasks, health.TaskObs{
			Name: t.Name, Hook: t.Lifecycle, Sidecar: t.Sidecar, State: st.State, Failed: st.Failed,
			StartedAt: time.UnixMilli(st.StartedAt),
		})
		if !hasChecks(t) || t.Lifecycle == HookPoststop || (t.Lifecycle != "" && st.State == protocol.TaskDead) {
			continue // a hook that finished has no services any more
		}
		regs := r.regs[t.Name]
		if regs == nil {
			o.ChecksPassing = false
			continue
		}
		for _, reg := range regs.regs {
			if !reg.Healthy {
				o.ChecksPassing = false
			}
		}
	}
	return o
}

func hasChecks(t *protocol.Task) bool {
	for _, s := range t.Services {
		if len(s.Checks) > 0 {
			return true
		}
	}
	return false
}
