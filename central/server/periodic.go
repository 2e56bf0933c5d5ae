package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/jobspec"
)

// Periodic jobs: the leader launches a child job <id>/periodic-<unix> at
// each tick of a periodic job's crons. Nothing of the timers is kept in
// memory across leaders: each leader rebuilds them from the state when it
// takes office, and the FSM decides each launch (state.LaunchPeriodic), so
// a tick is launched at most once whichever leader asks, and ever again.
//
// Launches missed while no server led (an election, every server down)
// are not replayed in a burst: as Nomad does, a new leader launches once
// at once if any launch was missed since the last one (ours is the latest
// missed tick, named after it, so two leaders catching up agree), then
// follows the crons from now.

// triggerPeriodicJob is the trigger of a periodic child's evaluation
// (Nomad's name).
const triggerPeriodicJob = "periodic-job"

// periodicStats counts the periodic loop's work.
type periodicStats struct {
	launched, skipped, caughtUp, failed atomic.Uint64
	tracked                             atomic.Int64 // periodic jobs with a timer
}

// periodicEntry is one tracked job's next launch.
type periodicEntry struct {
	job  *jobspec.Job // the version the launch was computed from
	next time.Time    // zero: the crons name no time to come
}

// periodicLoop launches periodic jobs while this server leads. It owns its
// timers; it learns of job changes by watching the jobs table.
func (l *leader) periodicLoop() {
	changed := make(chan struct{}, 1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		var idx uint64
		for {
			idx = l.s.store.Wait(l.ctx, state.TableJobs, idx)
			if l.ctx.Err() != nil {
				return
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()

	tracked := map[[2]string]*periodicEntry{}
	l.syncPeriodic(tracked, true) // catch up what was missed without a leader
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(untilEarliest(tracked, time.Now()))
		select {
		case <-l.ctx.Done():
			return
		case <-changed:
			l.syncPeriodic(tracked, false)
		case <-timer.C:
			now := time.Now()
			for key, e := range tracked {
				if e.next.IsZero() || e.next.After(now) {
					continue
				}
				l.launchScheduled(e.job, e.next, false)
				if l.ctx.Err() != nil {
					return
				}
				// From now, not from the tick: a leader that fell
				// behind does not launch every tick it slept through.
				e.next = nextLaunch(l, e.job, now)
				tracked[key] = e
			}
		}
	}
}

// untilEarliest is how long until the earliest tracked launch (an hour if
// none: the loop wakes on job changes anyway).
func untilEarliest(tracked map[[2]string]*periodicEntry, now time.Time) time.Duration {
	wait := time.Hour
	for _, e := range tracked {
		if !e.next.IsZero() {
			wait = min(wait, e.next.Sub(now))
		}
	}
	return max(wait, 0)
}

// syncPeriodic brings the timers in line with the periodic jobs in the
// state: new and changed jobs get their next launch, stopped, disabled and
// purged ones lose theirs. On taking office (catchUp) each job whose last
// launch is older than a tick that has passed is launched once, now.
func (l *leader) syncPeriodic(tracked map[[2]string]*periodicEntry, catchUp bool) {
	now := time.Now()
	seen := map[[2]string]bool{}
	for _, j := range l.s.store.PeriodicJobs() {
		key := [2]string{j.Namespace, j.ID}
		if j.Stop || !j.Periodic.Enabled {
			continue
		}
		seen[key] = true
		if e := tracked[key]; e != nil && e.job.JobModifyIndex == j.JobModifyIndex {
			e.job = j // a status change only
			continue
		}
		if catchUp {
			// Never launched: the job's registration is the baseline.
			after := time.Unix(0, j.SubmitTime)
			if last := l.s.store.PeriodicLaunchOf(j.Namespace, j.ID); last != nil && last.Launch > j.SubmitTime {
				after = time.Unix(0, last.Launch)
			}
			missed, err := j.Periodic.Latest(after, now)
			if err != nil {
				l.s.log.Warn("periodic job's schedule cannot be computed", "job", j.ID, "namespace", j.Namespace, "err", err)
			} else if !missed.IsZero() {
				l.s.log.Info("launching a periodic job's latest launch missed while no server led", "job", j.ID, "launch", missed)
				if l.launchScheduled(j, missed, true) {
					l.periodic.caughtUp.Add(1)
				}
			}
		}
		tracked[key] = &periodicEntry{job: j, next: nextLaunch(l, j, now)}
	}
	for key := range tracked {
		if !seen[key] {
			delete(tracked, key)
		}
	}
	l.periodic.tracked.Store(int64(len(tracked)))
}

// nextLaunch is j's first launch after t (zero if none will come).
func nextLaunch(l *leader, j *jobspec.Job, t time.Time) time.Time {
	next, err := j.Periodic.Next(t)
	if err != nil {
		l.s.log.Warn("periodic job's schedule cannot be computed", "job", j.ID, "namespace", j.Namespace, "err", err)
		return time.Time{}
	}
	return next
}

// launchScheduled asks the FSM to launch j's tick at; it reports whether
// a child was registered. Refusals are logged: the job may have been
// stopped since the timer was armed.
func (l *leader) launchScheduled(j *jobspec.Job, at time.Time, catchUp bool) bool {
	child, evalID, err := l.launch(j, at, false)
	switch {
	case err != nil:
		l.periodic.failed.Add(1)
		l.s.log.Warn("periodic launch not made", "job", j.ID, "namespace", j.Namespace, "launch", at, "err", err)
		return false
	case evalID == "":
		l.periodic.skipped.Add(1)
		l.s.log.Info("periodic launch skipped: handled already, or a previous launch still runs (prohibit_overlap)", "job", j.ID, "launch", at)
		return false
	}
	l.periodic.launched.Add(1)
	l.s.log.Info("periodic job launched", "job", j.ID, "child", child, "eval", evalID, "catch_up", catchUp)
	return true
}

// launch registers j's child for the launch at `at` through Raft. It
// returns the child's ID and its evaluation's, or no evaluation when the
// FSM made no launch (handled already, or skipped for prohibit_overlap).
func (l *leader) launch(j *jobspec.Job, at time.Time, force bool) (child, evalID string, err error) {
	c := j.PeriodicChild(at)
	now := time.Now().UnixNano()
	eval := newEval(c.Namespace, c.ID, c.Type, c.Priority, triggerPeriodicJob, "", now)
	op := &state.LaunchPeriodic{Child: c, Eval: eval, Launch: at.UnixNano(), Force: force, Now: now, KeepVersions: l.s.cfg.GC.TrackedVersions}
	if _, err := l.s.apply(&state.Command{Ops: []state.Op{{LaunchPeriodic: op}}}); err != nil {
		return c.ID, "", err
	}
	if l.s.store.EvalByID(eval.ID) == nil {
		return c.ID, "", nil
	}
	return c.ID, eval.ID, nil
}

// ForcePeriodic launches a periodic job's child now, whatever its
// schedule and prohibit_overlap (`central job periodic force`). It runs on
// the leader (followers forward it).
func (s *Server) ForcePeriodic(ctx context.Context, ns, id string) (child, evalID string, err error) {
	l := s.currentLeader()
	if l == nil {
		return "", "", ErrNotLeader
	}
	j := s.store.JobByID(ns, id)
	switch {
	case j == nil:
		return "", "", fmt.Errorf("job %q not found in namespace %q", id, ns)
	case j.Periodic == nil || j.ParentID != "":
		return "", "", refused{fmt.Errorf("job %q is not periodic: only a job with a periodic block can be forced", id)}
	case j.Stop:
		return "", "", refused{fmt.Errorf("job %q is stopped: run it again before forcing a launch", id)}
	case !j.Periodic.Enabled:
		return "", "", refused{fmt.Errorf("job %q has periodic { enabled = false }, which prevents forced launches too: set enabled = true and run it again", id)}
	}
	child, evalID, err = l.launch(j, time.Now(), true)
	if errors.Is(err, state.ErrNotPeriodic) {
		return "", "", refused{err}
	}
	if err == nil && evalID == "" { // the child's ID is the second's
		err = fmt.Errorf("%w: job %q was launched in this very second (%s): force it again", api.ErrConflict, id, child)
	}
	return child, evalID, err
}

// checkKindChange refuses, as Nomad does, a new version that makes a job
// periodic or parameterized, or makes it stop being so: its children and
// its own allocations would not know which rules they run under. The
// fix is a purge first (or another job ID).
func checkKindChange(old, j *jobspec.Job) error {
	if old == nil || j.ParentID != "" {
		return nil
	}
	for _, k := range []struct {
		kind     string
		was, now bool
	}{{"periodic", old.Periodic != nil, j.Periodic != nil}, {"parameterized", old.Parameterized != nil, j.Parameterized != nil}} {
		switch {
		case k.now && !k.was:
			return fmt.Errorf("job %q exists and is not %s: a job cannot become %s; purge it first (`central job stop -purge %s`) or use another job ID", j.ID, k.kind, k.kind, j.ID)
		case k.was && !k.now:
			return fmt.Errorf("job %q is %s: it cannot stop being %s; purge it first (`central job stop -purge %s`) or use another job ID", j.ID, k.kind, k.kind, j.ID)
		}
	}
	return nil
}
