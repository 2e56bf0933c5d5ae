package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/api"
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

// watchEvery is the shortest time between two passes of the watcher: a
// burst of agents' updates (each a state change) costs one pass, not one
// each.
const watchEvery = 100 * time.Millisecond

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
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(watchEvery):
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
		in := l.s.watchInput(snap, d, now)
		in.HealthMargin = margin
		dec := deploywatch.Decide(in)
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

// applyDecision writes one decision of the watcher.
func (l *leader) applyDecision(snap *state.Snapshot, d *structs.Deployment, dec deploywatch.Decision, now time.Time) error {
	_, err := l.s.writeDecision(snap, d, dec, nil, nil, now)
	if errors.Is(err, state.ErrDeploymentDone) {
		return nil // the operator decided first
	}
	return err
}

// writeDecision writes a decision on d with an evaluation of the job
// (and, for an auto-revert, the copy of the stable version as the job's
// newest version, with its own evaluation) in one Raft entry.
func (s *Server) writeDecision(snap *state.Snapshot, d *structs.Deployment, dec deploywatch.Decision, healthy, unhealthy []string, now time.Time) (api.DeploymentUpdateResponse, error) {
	var resp api.DeploymentUpdateResponse
	job := snap.JobByID(d.Namespace, d.JobID)
	upd := &state.UpdateDeployment{DeploymentID: d.ID, Status: dec.Status, StatusDescription: dec.Description,
		Promote: dec.Promote, MarkStable: dec.MarkStable, Healthy: healthy, Unhealthy: unhealthy, Now: now.UnixNano()}
	ops := []state.Op{{UpdateDeployment: upd}}
	if job != nil && dec.RevertTo == nil {
		upd.Eval = newEval(job.Namespace, job.ID, job.Type, job.Priority, triggerDeploymentWatcher, "", now.UnixNano())
		resp.EvalID = upd.Eval.ID
	}
	if dec.RevertTo != nil && job != nil {
		ev := newEval(job.Namespace, job.ID, job.Type, job.Priority, structs.TriggerJobRegister, "", now.UnixNano())
		ops = append(ops, state.Op{UpsertJob: &state.UpsertJob{Job: RevertCopy(dec.RevertTo), Eval: ev, Now: now.UnixNano(),
			KeepVersions: s.cfg.GC.TrackedVersions, EnforceIndex: job.JobModifyIndex}})
		resp.EvalID = ev.ID
		v := dec.RevertTo.Version
		resp.RevertedJobVersion = &v
	}
	res, err := s.apply(&state.Command{Ops: ops})
	if res != nil {
		resp.DeploymentModifyIndex = res.Index
	}
	if err != nil && res != nil && len(ops) > 1 && errors.Is(err, state.ErrConflict) && !errors.Is(err, state.ErrDeploymentDone) {
		// The job changed since we looked: the deployment's status was
		// written (ops apply one by one); the revert is moot.
		s.log.Info("deployment failed; job changed meanwhile, not reverted", "deployment", d.ID, "job", d.JobID)
		resp.RevertedJobVersion, resp.EvalID = nil, ""
		return resp, nil
	}
	if err != nil {
		if errors.Is(err, state.ErrDeploymentDone) {
			return resp, refused{fmt.Errorf("deployment %s is no longer active: %w", d.ID, err)}
		}
		return resp, fmt.Errorf("deployment %s: %w", d.ID, err)
	}
	switch {
	case dec.RevertTo != nil:
		s.log.Warn("deployment failed; job reverted", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion, "to", dec.RevertTo.Version, "why", dec.Description)
	case dec.Status == structs.DeploymentFailed:
		s.log.Warn("deployment failed", "deployment", d.ID, "job", d.JobID, "version", d.JobVersion, "why", dec.Description)
	case dec.Promote:
		s.log.Info("deployment canaries promoted", "deployment", d.ID, "job", d.JobID)
	case dec.Status != "":
		s.log.Info("deployment "+dec.Status, "deployment", d.ID, "job", d.JobID, "version", d.JobVersion)
	}
	return resp, nil
}

// UpdateDeployment carries out an operator's write on a deployment:
// promote (once every canary is healthy), fail (with auto_revert, as the
// watcher would), pause or resume, or set allocations' health by hand.
func (s *Server) UpdateDeployment(ctx context.Context, id string, act api.DeploymentAction) (api.DeploymentUpdateResponse, error) {
	snap := s.store.Snapshot()
	d := snap.DeploymentByID(id)
	if d == nil {
		return api.DeploymentUpdateResponse{}, refused{fmt.Errorf("deployment %q not found", id)}
	}
	if !d.Active() {
		return api.DeploymentUpdateResponse{}, refused{fmt.Errorf("deployment %s is %s: only a running or paused deployment can be changed", short(d.ID), d.Status)}
	}
	now := time.Now()
	var dec deploywatch.Decision
	switch {
	case act.Fail:
		dec = deploywatch.Fail(s.watchInput(snap, d, now), structs.DescDeploymentFailedByUser)
	case act.Promote:
		if err := canPromote(d, snap.AllocsByDeployment(d.ID)); err != nil {
			return api.DeploymentUpdateResponse{}, refused{err}
		}
		dec = deploywatch.Decision{Promote: true, Status: structs.DeploymentRunning, Description: structs.DescDeploymentRunning}
	case act.Pause != nil && *act.Pause:
		dec = deploywatch.Decision{Status: structs.DeploymentPaused, Description: structs.DescDeploymentPaused}
	case act.Pause != nil:
		if d.Status != structs.DeploymentPaused {
			return api.DeploymentUpdateResponse{}, refused{fmt.Errorf("deployment %s is %s, not paused: nothing to resume", short(d.ID), d.Status)}
		}
		desc := structs.DescDeploymentRunning
		for _, g := range d.TaskGroups {
			if g.DesiredCanaries > 0 && !g.Promoted {
				desc = structs.DescDeploymentNeedsPromotion
			}
		}
		dec = deploywatch.Decision{Status: structs.DeploymentRunning, Description: desc}
	case len(act.Healthy)+len(act.Unhealthy) > 0:
		in := map[string]bool{}
		for _, a := range snap.AllocsByDeployment(d.ID) {
			in[a.ID] = true
		}
		for _, id := range append(append([]string{}, act.Healthy...), act.Unhealthy...) {
			if !in[id] {
				return api.DeploymentUpdateResponse{}, refused{fmt.Errorf("allocation %q was not placed by deployment %s: list its allocations with GET /v1/deployment/allocations/%s", id, short(d.ID), d.ID)}
			}
		}
	default:
		return api.DeploymentUpdateResponse{}, refused{fmt.Errorf("nothing to do: promote, fail, pause or set allocation health")}
	}
	return s.writeDecision(snap, d, dec, act.Healthy, act.Unhealthy, now)
}

// canPromote checks Nomad's rule: every group waiting for promotion has
// all its canaries placed and healthy.
func canPromote(d *structs.Deployment, allocs []*structs.Allocation) error {
	if d.Status != structs.DeploymentRunning {
		return fmt.Errorf("deployment %s is %s: resume it before promoting", short(d.ID), d.Status)
	}
	healthy := map[string]int{}
	for _, a := range allocs {
		if a.DeploymentStatus != nil && a.DeploymentStatus.Canary && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy && !a.Terminal() {
			healthy[a.TaskGroup]++
		}
	}
	waiting := false
	for name, g := range d.TaskGroups {
		if g.DesiredCanaries == 0 || g.Promoted {
			continue
		}
		waiting = true
		if healthy[name] < g.DesiredCanaries {
			return fmt.Errorf("group %q has %d of %d canaries healthy: wait until they all are (central deployment status %s), or fail the deployment", name, healthy[name], g.DesiredCanaries, short(d.ID))
		}
	}
	if !waiting {
		return fmt.Errorf("deployment %s has no canaries waiting for promotion", short(d.ID))
	}
	return nil
}

// watchInput gathers what deploywatch needs to decide on d.
func (s *Server) watchInput(snap *state.Snapshot, d *structs.Deployment, now time.Time) deploywatch.Input {
	return deploywatch.Input{
		Deployment: d,
		Job:        snap.JobVersion(d.Namespace, d.JobID, d.JobVersion),
		Current:    snap.JobByID(d.Namespace, d.JobID),
		Allocs:     snap.AllocsByDeployment(d.ID),
		Disconnected: func(id string) bool {
			n := snap.NodeByID(id)
			return n != nil && n.Status == structs.NodeDisconnected
		},
		Versions: snap.JobVersions(d.Namespace, d.JobID),
		Now:      now.UnixNano(),
	}
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
