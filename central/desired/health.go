package desired

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Nomad's defaults for an update block's health settings, used where the
// job left them zero.
const (
	defaultHealthCheck     = protocol.HealthChecks
	defaultHealthyDeadline = 5 * 60 * 1000 // ms
)

// deploymentHealth is what the agent needs to report an allocation's
// health to its deployment: nothing unless a deployment placed the
// allocation and its group has an update block.
func deploymentHealth(a *structs.Allocation, tg *jobspec.TaskGroup) (string, *protocol.HealthPolicy) {
	u := tg.Update
	if a.DeploymentID == "" || u == nil {
		return "", nil
	}
	p := &protocol.HealthPolicy{Mode: u.HealthCheck, MinHealthyMs: u.MinHealthyTime.Milliseconds(), DeadlineMs: u.HealthyDeadline.Milliseconds()}
	if p.Mode == "" {
		p.Mode = defaultHealthCheck
	}
	if p.DeadlineMs <= 0 {
		p.DeadlineMs = defaultHealthyDeadline
	}
	p.MinHealthyMs = max(p.MinHealthyMs, 0)
	return a.DeploymentID, p
}

// checkRestart copies a check's check_restart block (the service's merged
// in at parse time) onto its wire form.
func checkRestart(pc *protocol.Check, cr *jobspec.CheckRestart) {
	if cr == nil || cr.Limit <= 0 {
		return
	}
	pc.RestartLimit, pc.RestartGraceMs, pc.RestartIgnoreWarnings = cr.Limit, cr.Grace.Milliseconds(), cr.IgnoreWarnings
}
