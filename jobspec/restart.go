package jobspec

import (
	"slices"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// restartBlock decodes a restart block over base: the job type's defaults
// for a group's; the group's policy for a task's (Nomad's rule: a field
// the task sets wins, the others are the group's). base nil leaves the
// unset fields for Canonicalize to take from the group.
func (d *decoder) restartBlock(rb *hclsyntax.Block, where string, base *RestartPolicy) *RestartPolicy {
	r := &RestartPolicy{}
	if base != nil {
		*r = *base
		if base.RenderTemplates != nil {
			v := *base.RenderTemplates
			r.RenderTemplates = &v
		}
	}
	d.pos.set(r, "", rb.DefRange())
	rc := d.content(rb.Body, within(restartSpec, where+" restart"))
	d.integer(rc, "attempts", &r.Attempts)
	d.duration(rc, "interval", &r.Interval)
	d.duration(rc, "delay", &r.Delay)
	if d.str(rc, "mode", &r.Mode) {
		d.pos.set(r, "mode", rc.attrs["mode"].Expr.Range())
	}
	var render bool
	if d.boolean(rc, "render_templates", &render) {
		r.RenderTemplates = &render
		d.pos.set(r, "render_templates", rc.attrs["render_templates"].Expr.Range())
	}
	return r
}

// canonTaskRestart gives a task's own restart policy the group's mode and
// interval where it has none (a job submitted as JSON states every field
// it sets; zero mode and interval mean "the group's").
func canonTaskRestart(t *Task, g *TaskGroup) {
	r := t.Restart
	if r == nil || g.Restart == nil {
		return
	}
	if r.Mode == "" {
		r.Mode = g.Restart.Mode
	}
	if r.Interval == 0 {
		r.Interval = g.Restart.Interval
	}
}

// restart checks a group's or a task's restart policy (nil: none).
func (v *validator) restart(r *RestartPolicy, path string) {
	if r == nil {
		return
	}
	if !slices.Contains(restartModes, r.Mode) {
		v.add(r, "mode", path, oneOf(restartModes), "unknown restart mode %q", r.Mode)
	}
	if r.RenderTemplates != nil && !*r.RenderTemplates {
		v.add(r, "render_templates", path, "remove render_templates, or write render_templates = true",
			"render_templates = false is not supported: Tether always renders a task's templates again before restarting it")
	}
	if r.Attempts < 0 || r.Interval < 0 || r.Delay < 0 {
		v.add(r, "", path, "use values of zero or more", "restart attempts, interval and delay must not be negative")
	} else if r.Attempts > 0 && r.Interval > 0 && r.Delay*timesInt(r.Attempts) > r.Interval {
		v.add(r, "", path, "raise interval or lower attempts or delay",
			"restart: %d attempts with a delay of %s do not fit in an interval of %s", r.Attempts, r.Delay, r.Interval)
	}
}
