package jobspec

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Update health checks: how an allocation's health in a deployment is
// decided.
const (
	HealthChecks     = "checks"      // tasks running and every service check passing, for min_healthy_time
	HealthTaskStates = "task_states" // tasks running for min_healthy_time
	HealthManual     = "manual"      // an operator sets it (POST /v1/deployment/allocation-health/<id>)
)

var healthChecks = []string{HealthChecks, HealthTaskStates, HealthManual}

var updateSpec = spec{attrs: []string{"max_parallel", "health_check", "min_healthy_time", "healthy_deadline",
	"progress_deadline", "auto_revert", "auto_promote", "canary", "stagger"}}

// DefaultUpdate is Nomad's update strategy: what a written update block
// starts from.
func DefaultUpdate() *UpdateStrategy {
	return &UpdateStrategy{
		Stagger: 30 * time.Second, MaxParallel: 1, HealthCheck: HealthChecks,
		MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute,
	}
}

// updateBlock is one update block as written: the fields it set, and
// where.
type updateBlock struct {
	u      UpdateStrategy
	ranges map[string]hcl.Range // field → its value's range; "" → the block
}

// update decodes the update block of a job or group body, if any.
func (d *decoder) update(c content, s spec) *updateBlock {
	b := d.single(c, s, "update")
	if b == nil || !d.labels(b, 0, "update { max_parallel = 1 }") {
		return nil
	}
	out := &updateBlock{ranges: map[string]hcl.Range{"": b.DefRange()}}
	uc := d.content(b.Body, within(updateSpec, s.where+" update"))
	set := func(name string, ok bool) {
		if ok {
			out.ranges[name] = uc.attrs[name].Expr.Range()
		}
	}
	set("max_parallel", d.integer(uc, "max_parallel", &out.u.MaxParallel))
	set("health_check", d.str(uc, "health_check", &out.u.HealthCheck))
	set("min_healthy_time", d.duration(uc, "min_healthy_time", &out.u.MinHealthyTime))
	set("healthy_deadline", d.duration(uc, "healthy_deadline", &out.u.HealthyDeadline))
	set("progress_deadline", d.duration(uc, "progress_deadline", &out.u.ProgressDeadline))
	set("auto_revert", d.boolean(uc, "auto_revert", &out.u.AutoRevert))
	set("auto_promote", d.boolean(uc, "auto_promote", &out.u.AutoPromote))
	set("canary", d.integer(uc, "canary", &out.u.Canary))
	set("stagger", d.duration(uc, "stagger", &out.u.Stagger))
	return out
}

// mergeUpdate merges, as Nomad does, Nomad's defaults, then the job's
// block, then the group's: each field written wins over the ones before.
// It returns nil when no block was written.
func (d *decoder) mergeUpdate(blocks ...*updateBlock) *UpdateStrategy {
	var u *UpdateStrategy
	for _, b := range blocks {
		if b == nil {
			continue
		}
		if u == nil {
			u = DefaultUpdate()
		}
		d.pos.set(u, "", b.ranges[""])
		for field, rng := range b.ranges {
			switch field {
			case "max_parallel":
				u.MaxParallel = b.u.MaxParallel
			case "health_check":
				u.HealthCheck = b.u.HealthCheck
			case "min_healthy_time":
				u.MinHealthyTime = b.u.MinHealthyTime
			case "healthy_deadline":
				u.HealthyDeadline = b.u.HealthyDeadline
			case "progress_deadline":
				u.ProgressDeadline = b.u.ProgressDeadline
			case "auto_revert":
				u.AutoRevert = b.u.AutoRevert
			case "auto_promote":
				u.AutoPromote = b.u.AutoPromote
			case "canary":
				u.Canary = b.u.Canary
			case "stagger":
				u.Stagger = b.u.Stagger
			}
			if field != "" {
				d.pos.set(u, field, rng)
			}
		}
	}
	return u
}

// canonUpdate fills what an update given as JSON left empty with Nomad's
// defaults (a JSON job cannot say "0" apart from "not written" for these).
func canonUpdate(u *UpdateStrategy) {
	if u == nil {
		return
	}
	def := DefaultUpdate()
	if u.HealthCheck == "" {
		u.HealthCheck = def.HealthCheck
	}
	if u.Stagger == 0 {
		u.Stagger = def.Stagger
	}
	if u.HealthyDeadline == 0 {
		u.HealthyDeadline = def.HealthyDeadline
	}
}

// update checks a group's update strategy with Nomad's rules.
func (v *validator) update(j *Job, g *TaskGroup, u *UpdateStrategy, path string) {
	switch j.Type {
	case JobTypeService, JobTypeSystem, "":
	default:
		v.add(u, "", path, "remove the update block: "+j.Type+" jobs run to completion and are not rolled out",
			"job type %q does not allow an update block", j.Type)
		return
	}
	if !slices.Contains(healthChecks, u.HealthCheck) {
		fix := meanFix(u.HealthCheck, healthChecks)
		if fix == "" {
			fix = oneOf(healthChecks)
		}
		v.add(u, "health_check", path, fix, "unknown update health_check %q (known: checks, task_states, manual)", u.HealthCheck)
	}
	if u.MaxParallel < 0 {
		v.add(u, "max_parallel", path, "use 0 (replace everything at once, no deployment) or more", "update max_parallel %d is negative", u.MaxParallel)
	}
	if u.Canary < 0 {
		v.add(u, "canary", path, "use 0 (no canaries) or more", "update canary %d is negative", u.Canary)
	}
	if u.Canary > 0 && j.Type == JobTypeSystem {
		v.add(u, "canary", path, "remove canary: a system job is rolled out max_parallel nodes at a time", "canaries are not supported for system jobs")
	}
	if u.Canary == 0 && u.AutoPromote {
		v.add(u, "auto_promote", path, "set canary to 1 or more, or remove auto_promote", "update auto_promote needs canaries to promote")
	}
	if u.MinHealthyTime < 0 {
		v.add(u, "min_healthy_time", path, "use 0s or more", "update min_healthy_time %s is negative", shortDuration(u.MinHealthyTime))
	}
	if u.HealthyDeadline <= 0 {
		v.add(u, "healthy_deadline", path, "use a healthy_deadline above 0s (default 5m)", "update healthy_deadline %s must be greater than zero", shortDuration(u.HealthyDeadline))
		return
	}
	if u.ProgressDeadline < 0 {
		v.add(u, "progress_deadline", path, "use 0s (no deadline) or more", "update progress_deadline %s is negative", shortDuration(u.ProgressDeadline))
	}
	if u.MinHealthyTime >= u.HealthyDeadline {
		v.add(u, "min_healthy_time", path, fmt.Sprintf("use a min_healthy_time below the healthy_deadline (%s), or raise healthy_deadline", shortDuration(u.HealthyDeadline)),
			"update min_healthy_time %s must be less than healthy_deadline %s", shortDuration(u.MinHealthyTime), shortDuration(u.HealthyDeadline))
	}
	if u.ProgressDeadline != 0 && u.HealthyDeadline >= u.ProgressDeadline {
		v.add(u, "healthy_deadline", path, fmt.Sprintf("use a healthy_deadline below the progress_deadline (%s), or raise progress_deadline", shortDuration(u.ProgressDeadline)),
			"update healthy_deadline %s must be less than progress_deadline %s", shortDuration(u.HealthyDeadline), shortDuration(u.ProgressDeadline))
	}
	if u.Stagger <= 0 {
		v.add(u, "stagger", path, "use a stagger above 0s (default 30s)", "update stagger %s must be greater than zero", shortDuration(u.Stagger))
	}
}
