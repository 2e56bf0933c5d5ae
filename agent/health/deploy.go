package health

import (
	"fmt"
	"strings"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Lifecycle hooks that change how a task counts toward health.
const (
	hookPrestart  = "prestart"
	hookPoststart = "poststart"
	hookPoststop  = "poststop"
)

// Policy is how an allocation's deployment health is decided (the group's
// update block).
type Policy struct {
	Checks     bool          // health_check = "checks": checks must pass too
	MinHealthy time.Duration // min_healthy_time
	Deadline   time.Duration // healthy_deadline, from the tracker's start; 0: none
}

// TaskObs is what the tracker needs of one task.
type TaskObs struct {
	Name      string
	Hook      string // "" (main), prestart, poststart, poststop
	Sidecar   bool
	State     string // protocol.TaskPending | TaskRunning | TaskDead
	Failed    bool
	StartedAt time.Time // its latest start
}

// Obs is one observation of an allocation: its tasks, and whether every
// check of the services of its counted tasks passed its latest probe
// (false while a task's services are not registered).
type Obs struct {
	Tasks         []TaskObs
	ChecksPassing bool
}

// Decision is a tracker's verdict.
type Decision struct {
	Healthy bool
	Time    time.Time
	Reason  string // why unhealthy
}

// Tracker decides an allocation's deployment health once, as Nomad's
// client does: healthy when every (main) task has run for MinHealthy
// since its latest start and, with Checks, every check has passed
// continuously for MinHealthy; unhealthy at once when a task fails or a
// main task finishes, or when Deadline passes first. A restart starts the
// MinHealthy wait again. It is pure: the caller feeds observations and
// the time, and wakes it at Next.
type Tracker struct {
	policy      Policy
	start       time.Time
	tasksSince  time.Time // all counted tasks running since (zero: not all running)
	checksSince time.Time // all checks passing since (zero: not)
	last        Obs
	decided     *Decision
}

// NewTracker starts tracking at start (the deadline counts from there).
func NewTracker(p Policy, start time.Time) *Tracker {
	return &Tracker{policy: p, start: start}
}

// Decided is the verdict, nil until there is one.
func (t *Tracker) Decided() *Decision { return t.decided }

// Observe records the allocation's state at now and returns the verdict
// if there is one (now or earlier).
func (t *Tracker) Observe(now time.Time, o Obs) *Decision {
	if t.decided != nil {
		return t.decided
	}
	t.last = o
	var latest time.Time
	all := true
	for _, ts := range o.Tasks {
		switch {
		case ts.Hook == hookPoststop:
			continue // runs after the main tasks: not part of health
		case ts.Hook == hookPoststart && ts.State == protocol.TaskDead && !ts.Failed:
			continue // finished its work
		case ts.Failed:
			return t.decide(now, false, fmt.Sprintf("task %q failed", ts.Name))
		case ts.State == protocol.TaskDead && (ts.Hook != hookPrestart || ts.Sidecar):
			return t.decide(now, false, fmt.Sprintf("task %q is dead", ts.Name))
		case ts.State == protocol.TaskDead:
			// a prestart task that completed
		case ts.State != protocol.TaskRunning:
			all = false
		}
		if ts.StartedAt.After(latest) {
			latest = ts.StartedAt
		}
	}
	switch {
	case !all:
		t.tasksSince = time.Time{}
	default:
		t.tasksSince = latest
		if t.tasksSince.Before(t.start) {
			t.tasksSince = t.start // tracking began after the tasks started (a new deployment, an agent restart)
		}
	}
	switch {
	case !o.ChecksPassing:
		t.checksSince = time.Time{}
	case t.checksSince.IsZero():
		t.checksSince = now
	}
	return t.Check(now)
}

// Check decides at now from the last observation: the time has come for
// the allocation to be healthy, or its deadline has passed.
func (t *Tracker) Check(now time.Time) *Decision {
	if t.decided != nil {
		return t.decided
	}
	if t.healthyAt(now) {
		return t.decide(now, true, "")
	}
	if t.policy.Deadline > 0 && !now.Before(t.start.Add(t.policy.Deadline)) {
		return t.decide(now, false, t.deadlineReason())
	}
	return nil
}

// Next is when the verdict may change without a new observation (zero:
// not before one, or decided).
func (t *Tracker) Next() time.Time {
	if t.decided != nil {
		return time.Time{}
	}
	var next time.Time
	earliest := func(at time.Time) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if w := t.waitUntil(); !w.IsZero() {
		earliest(w)
	}
	if t.policy.Deadline > 0 {
		earliest(t.start.Add(t.policy.Deadline))
	}
	return next
}

// waitUntil is when the allocation becomes healthy if nothing changes
// (zero: not while it stays as it is).
func (t *Tracker) waitUntil() time.Time {
	if t.tasksSince.IsZero() || (t.policy.Checks && t.checksSince.IsZero()) {
		return time.Time{}
	}
	at := t.tasksSince.Add(t.policy.MinHealthy)
	if t.policy.Checks {
		if c := t.checksSince.Add(t.policy.MinHealthy); c.After(at) {
			at = c
		}
	}
	return at
}

func (t *Tracker) healthyAt(now time.Time) bool {
	w := t.waitUntil()
	return !w.IsZero() && !now.Before(w)
}

func (t *Tracker) decide(now time.Time, healthy bool, reason string) *Decision {
	t.decided = &Decision{Healthy: healthy, Time: now, Reason: reason}
	return t.decided
}

// deadlineReason says, as Nomad's events do, what kept the allocation
// from being healthy by its deadline.
func (t *Tracker) deadlineReason() string {
	mh, dl := shortDur(t.policy.MinHealthy), shortDur(t.policy.Deadline)
	var notRunning []string
	for _, ts := range t.last.Tasks {
		if ts.Hook == hookPoststop || ts.State == protocol.TaskDead {
			continue
		}
		if ts.State != protocol.TaskRunning {
			notRunning = append(notRunning, fmt.Sprintf("%q", ts.Name))
		}
	}
	switch {
	case len(notRunning) > 0:
		return fmt.Sprintf("task %s not running by healthy_deadline of %s", strings.Join(notRunning, ", "), dl)
	case t.tasksSince.IsZero() || !t.healthyTasksBy(t.start.Add(t.policy.Deadline)):
		return fmt.Sprintf("tasks not running for min_healthy_time of %s by healthy_deadline of %s", mh, dl)
	case t.checksSince.IsZero():
		return fmt.Sprintf("service checks not passing by healthy_deadline of %s", dl)
	}
	return fmt.Sprintf("service checks not passing for min_healthy_time of %s by healthy_deadline of %s", mh, dl)
}

func (t *Tracker) healthyTasksBy(at time.Time) bool {
	return !t.tasksSince.IsZero() && !at.Before(t.tasksSince.Add(t.policy.MinHealthy))
}

// shortDur prints 10s and 5m rather than 10s and 5m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
