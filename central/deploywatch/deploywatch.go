// Package deploywatch decides what happens to a running deployment: the
// health gate and the deadlines of a rollout (Nomad's deploymentwatcher).
// It is pure: the leader (central/server) hands it a deployment, its
// allocations, the job's versions and the time, and writes back what it
// decides, with an evaluation so that the scheduler continues the rollout.
//
//	for each active deployment:
//	    an allocation reported unhealthy          → failed
//	    one with no report past healthy_deadline  → failed (the agent
//	      applies the deadline itself; this is central's backstop)
//	    a group short of progress past its deadline → failed
//	    every canary healthy, auto_promote         → promoted
//	    every group healthy (and promoted)         → successful, version stable
//	    failed with auto_revert                    → a copy of the latest
//	                                                 stable version is registered
//
// Allocations on disconnected nodes are skipped: they neither count as
// healthy nor fail the deployment, and the scheduler updates them when
// their node returns (docs/deployments.md).
package deploywatch

import (
	"fmt"
	"reflect"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Input is what Decide looks at.
type Input struct {
	Deployment *structs.Deployment
	// Job is the deployed version's spec (for healthy_deadline); nil if
	// that version is no longer kept.
	Job *jobspec.Job
	// Current is the job's latest version (nil: the job is gone).
	Current *jobspec.Job
	// Allocs are the allocations the deployment placed.
	Allocs []*structs.Allocation
	// Disconnected reports whether a node is disconnected now.
	Disconnected func(nodeID string) bool
	// Versions are the job's kept versions, newest first.
	Versions []*jobspec.Job
	Now      int64 // unix ns
	// HealthMargin is added to healthy_deadline before central gives up
	// waiting for an allocation's report.
	HealthMargin time.Duration
}

// Decision is what Decide concluded. The zero value changes nothing.
type Decision struct {
	Status      string // new status; "" keeps it
	Description string
	Promote     bool
	MarkStable  bool
	// RevertTo is the stable version to register a copy of.
	RevertTo *jobspec.Job
	// NextCheck is when a deadline passes (unix ns; 0: none pending).
	NextCheck int64
}

// Changed reports whether d asks for a write.
func (d Decision) Changed() bool { return d.Status != "" || d.Promote }

// Decide looks at one deployment.
func Decide(in Input) Decision {
	d := in.Deployment
	if d == nil || !d.Active() {
		return Decision{}
	}
	var out Decision
	later := func(at int64) {
		if at > 0 && (out.NextCheck == 0 || at < out.NextCheck) {
			out.NextCheck = at
		}
	}
	running := d.Status == structs.DeploymentRunning || d.Status == structs.DeploymentPending
	type groupCount struct{ healthy, canaries, healthyCanaries int }
	groups := map[string]*groupCount{}
	for name := range d.TaskGroups {
		groups[name] = &groupCount{}
	}
	for _, a := range in.Allocs {
		g := groups[a.TaskGroup]
		if g == nil || a.DesiredStatus == protocol.DesiredStop {
			continue // stopped by the scheduler: no longer part of the rollout
		}
		ds := a.DeploymentStatus
		canary := ds != nil && ds.Canary
		if canary {
			g.canaries++
		}
		switch {
		case ds != nil && ds.Healthy != nil && !*ds.Healthy,
			a.ClientStatus == protocol.AllocFailed && (ds == nil || ds.Healthy == nil):
			reason := ""
			if ds != nil && ds.Reason != "" {
				reason = ": " + ds.Reason
			}
			return in.fail(fmt.Sprintf("%s (alloc %s%s)", structs.DescDeploymentFailedUnhealthy, short(a.ID), reason))
		case ds != nil && ds.Healthy != nil:
			if !a.Terminal() {
				g.healthy++
				if canary {
					g.healthyCanaries++
				}
			}
		case a.Terminal():
		case in.Disconnected != nil && in.Disconnected(a.NodeID):
			// Skipped while its node is away.
		default:
			if dl := in.healthDeadline(a); dl > 0 {
				if in.Now > dl {
					return in.fail(fmt.Sprintf("%s (alloc %s)", structs.DescDeploymentFailedHealthReport, short(a.ID)))
				}
				later(dl)
			}
		}
	}

	// Promotion: every group with canaries has them all healthy.
	waiting, autoPromote := false, true
	for name, g := range d.TaskGroups {
		if g.DesiredCanaries == 0 || g.Promoted {
			continue
		}
		waiting = true
		autoPromote = autoPromote && g.AutoPromote && groups[name].healthyCanaries >= g.DesiredCanaries
	}
	if waiting && autoPromote && running {
		out.Promote = true
		out.Description = structs.DescDeploymentRunning
		return out
	}

	done := true
	for name, g := range d.TaskGroups {
		c := groups[name]
		canariesReady := g.DesiredCanaries > 0 && !g.Promoted && c.healthyCanaries >= g.DesiredCanaries
		complete := (g.DesiredCanaries == 0 || g.Promoted) && c.healthy >= g.DesiredTotal-g.DisconnectedSkipped
		if complete {
			continue
		}
		done = false
		if running && !canariesReady && g.RequireProgressBy > 0 {
			if in.Now > g.RequireProgressBy {
				return in.fail(fmt.Sprintf("%s (group %q)", structs.DescDeploymentFailedProgress, name))
			}
			later(g.RequireProgressBy)
		}
	}
	if done && running {
		out.Status, out.Description, out.MarkStable = structs.DeploymentSuccessful, structs.DescDeploymentSuccessful, true
		out.NextCheck = 0
	}
	return out
}

// healthDeadline is when central stops waiting for a's health report.
func (in Input) healthDeadline(a *structs.Allocation) int64 {
	if in.Job == nil {
		return 0
	}
	tg := in.Job.LookupTaskGroup(a.TaskGroup)
	if tg == nil || tg.Update == nil || tg.Update.HealthyDeadline <= 0 || tg.Update.HealthCheck == jobspec.HealthManual {
		return 0 // manual health: an operator decides, however long it takes
	}
	return a.CreateTime + int64(tg.Update.HealthyDeadline) + int64(in.HealthMargin)
}

// Fail is the decision to fail in.Deployment for reason desc (an
// operator's `deployment fail`), with the same auto_revert as Decide's.
func Fail(in Input, desc string) Decision { return in.fail(desc) }

// fail fails the deployment, reverting to the latest stable version when
// a group asks for it and the job is still at the deployed version.
func (in Input) fail(desc string) Decision {
	out := Decision{Status: structs.DeploymentFailed, Description: desc}
	d := in.Deployment
	revert := false
	for _, g := range d.TaskGroups {
		revert = revert || g.AutoRevert
	}
	if !revert || in.Current == nil || in.Current.Version != d.JobVersion || in.Current.Stop {
		return out
	}
	for _, v := range in.Versions {
		if v.Version < d.JobVersion && v.Stable && !v.Stop {
			if in.Job != nil && sameSpec(v, in.Job) {
				// A copy of the stable version is what failed (a revert
				// that failed in turn): going back again would loop.
				out.Description = fmt.Sprintf("%s - not rolling back to stable job version %d: the failed version has the same specification", desc, v.Version)
				return out
			}
			out.RevertTo = v
			out.Description = fmt.Sprintf("%s - rolling back to job version %d", desc, v.Version)
			return out
		}
	}
	out.Description = desc + " - no stable job version to auto revert to"
	return out
}

// sameSpec reports whether two versions of a job have the same spec (the
// fields central sets aside).
func sameSpec(a, b *jobspec.Job) bool {
	ca, cb := *a, *b
	for _, c := range []*jobspec.Job{&ca, &cb} {
		c.Version, c.Stable, c.Status, c.SubmitTime = 0, false, "", 0
		c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	}
	return reflect.DeepEqual(ca, cb)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
