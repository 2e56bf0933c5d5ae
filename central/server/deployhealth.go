package server

import (
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// triggerDeploymentHealth is the trigger of an evaluation made because an
// agent reported an allocation's deployment health (Nomad's deployment
// watcher makes these).
const triggerDeploymentHealth = "deployment-watcher"

// healthReport converts an agent's health report for the store.
func healthReport(h *protocol.AllocHealth) *state.AllocHealthReport {
	if h == nil {
		return nil
	}
	return &state.AllocHealthReport{DeploymentID: h.DeploymentID, Healthy: h.Healthy, Time: h.Time * 1e6, Reason: h.Reason}
}

// withHealthEvals appends to ops, after op's client update, one
// evaluation per job that op tells news of an allocation's deployment
// health: the scheduler continues (or stops) the rollout on it. A report
// the store already has (every update after the first carries it again)
// or one for another deployment makes none. The evaluation is committed
// with the update, in the same entry, so the scheduler sees the health.
func (l *leader) withHealthEvals(ops []state.Op, op *state.ClientUpdate) []state.Op {
	var evals []*structs.Evaluation
	seen := map[[2]string]bool{}
	for i := range op.Allocs {
		u := &op.Allocs[i]
		if u.Health == nil {
			continue
		}
		a := l.s.store.AllocByID(u.ID)
		if a == nil || a.NodeID != op.NodeID || !state.HealthIsNews(a, u.Health) {
			continue
		}
		key := [2]string{a.Namespace, a.JobID}
		if seen[key] {
			continue
		}
		seen[key] = true
		if job := l.s.store.JobByID(a.Namespace, a.JobID); job != nil {
			evals = append(evals, newEval(job.Namespace, job.ID, job.Type, job.Priority, triggerDeploymentHealth, op.NodeID, op.Now))
		}
	}
	if len(evals) == 0 {
		return ops
	}
	return append(ops, state.Op{UpsertEvals: evals})
}
