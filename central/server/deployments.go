package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/deploywatch"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// The deployment watcher is a leader duty: one goroutine that looks at
// every active deployment whenever the state changes or a deadline passes
// (central/deploywatch decides), and writes what it decided through Raft
// with an evaluation of the job. Its deadlines are stored in the state
// (a group's RequireProgressBy, an allocation's CreateTime plus the
// group's healthy_deadline), so a new leader rebuilds them on its first
// look after a failover.

// defaultHealthMargin is how long, past healthy_deadline, central waits
// for an agent's health report before it fails the deployment itself.
const defaultHealthMargin = time.Minute

// triggerDeploymentWatcher is the trigger of the evaluations the watcher
// creates (Nomad's name).
const triggerDeploymentWatcher = "deployment-watcher"

// deploymentWatcher runs until the leader steps down.
func (l *leader) deploymentWatcher() {
	margin := l.s.cfg.DeploymentHealthMargin
	if margin <= 0 {
		margin = defaultHealthMargin
	}
	retryAt := map[string]time.Time{} // deployments whose last write failed
	var seen uint64
	for {
		next := l.watchDeployments(margin, retryAt)
		ctx, cancel := l.ctx, context.CancelFunc(func() {})
		if next > 0 {
			ctx, cancel = context.WithDeadline(l.ctx, time.Unix(0, next))
		}
		seen = l.s.store.Wait(ctx, "", seen)
		cancel()
		if l.ctx.Err() != nil {
			return
		}
	}
}

// watchDeployments decides on every active deployment once and returns
// the earliest deadline still pending (unix ns; 0 for none).
func (l *leader) watchDeployments(margin time.Duration, retryAt map[string]time.Time) int64 {
	snap := l.s.store.Snapshot()
	now := time.Now()
	var next int64
	later := func(at int64) {
		if at > 0 && (next == 0 || at < next) {
			next = at
		}
	}
	for _, d := range snap.Deployments("") {
		if !d.Active() {
			continue
		}
		if t, ok := retryAt[d.ID]; ok && now.Before(t) {
			later(t.UnixNano())
			continue
		}
		dec := deploywatch.Decide(deploywatch.Input{
			Deployment: d,
			Job:        snap.JobVersion(d.Namespace, d.JobID, d.JobVersion),
			Current:    snap.JobByID(d.Namespace, d.JobID),
			Allocs:     snap.AllocsByDeployment(d.ID),
			Disconnected: func(id string) bool {
				n := snap.NodeByID(id)
				return n != nil && n.Status == structs.NodeDisconnected
			},
			Versions:     snap.JobVersions(d.Namespace, d.JobID),
			Now:          now.UnixNano(),
			HealthMargin: margin,
		})
		later(dec.NextCheck)
		if !dec.Changed() {
			continue
		}
		if err := l.applyDecision(snap, d, dec, now); err != nil {
			l.s.log.Warn("deployment watcher: write failed; retrying in 5s", "deployment", d.ID, "job", d.JobID, "err", err)
			retryAt[d.ID] = now.Add(5 * time.Second)
			later(retryAt[d.ID].UnixNano())
			continue
		}
		delete(retryAt, d.ID)
	}
	return next
}

// applyDecision writes one decision, with an evaluation of the job (and,
// for an auto-revert, the copy of the stable version as the job's newest
// version) in one Raft entry.
func (l *leader) applyDecision(snap *state.Snapshot, d *structs.Deployment, dec deploywatch.Decision, now time.Time) error {
	job := snap.JobByID(d.Namespace, d.JobID)
	upd := &state.UpdateDeployment{DeploymentID: d.ID, Status: dec.Status, StatusDescription: dec.Description,
		Promote: dec.Promote, MarkStable: dec.MarkStable, Now: now.UnixNano()}
	ops := []state.Op{{UpdateDeployment: upd}}
	if job != nil && dec.RevertTo == nil {
		upd.Eval = newEval(job.Namespace, job.ID, job.Type, job.Priority, triggerDeploymentWatcher, "", now.UnixNano())
	}
	if dec.RevertTo != nil && job != nil {
		ev := newEval(job.Namespace, job.ID, job.Type, job.Priority, structs.TriggerJobRegister, "", now.UnixNano())
		ops = append(ops, state.Op{UpsertJob: &state.UpsertJob{Job: RevertCopy(dec.RevertTo), Eval: ev, Now: now.UnixNano(),
			KeepVersions: l.s.cfg.GC.TrackedVersions, EnforceIndex: job.JobModifyIndex}})
	}
	res, err := l.s.apply(&state.Command{Ops: ops})
	if err != nil && res != nil && len(ops) > 1 && errors.Is(err, state.ErrConflict) {
		// The job changed since we looked: the deployment's status was
		// written (ops apply one by one); the revert is moot.
		l.s.log.Info("deployment failed; job changed meanwhile, not reverted", "deployment", d.ID, "job", d.JobID)
		return nil
	}
	if err != nil {
		if errors.Is(err, state.ErrDeploymentDone) {
			return nil // decided elsewhere meanwhile (the operator)
		}
		return fmt.Errorf("deployment %s: %w", d.ID, err)
	}
	switch {
	case dec.RevertTo != nil:
		l.s.log.Warn("deployment failed; job reverted", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion, "to", dec.RevertTo.Version, "why", dec.Description)
	case dec.Status == structs.DeploymentFailed:
		l.s.log.Warn("deployment failed", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion, "why", dec.Description)
	case dec.Promote:
		l.s.log.Info("deployment canaries promoted", "deployment", d.ID, "job", d.JobID)
	default:
		l.s.log.Info("deployment "+dec.Status, "deployment", d.ID, "job", d.JobID, "version", d.JobVersion)
	}
	return nil
}
