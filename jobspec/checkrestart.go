package jobspec

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultCheckRestartGrace is Nomad's check_restart grace: how long after
// a task (re)starts its checks' failures are not counted.
const DefaultCheckRestartGrace = time.Second

var checkRestartSpec = spec{attrs: []string{"limit", "grace", "ignore_warnings"}}

// checkRestartBlock is one check_restart block as written: the fields it
// set (nil: not written), and where.
type checkRestartBlock struct {
	limit  *int
	grace  *time.Duration
	ignore *bool
	ranges map[string]hcl.Range // field → its value's range; "" → the block
}

// checkRestart decodes the check_restart block of a service or check body.
func (d *decoder) checkRestart(c content, s spec) *checkRestartBlock {
	b := d.single(c, s, "check_restart")
	if b == nil || !d.labels(b, 0, "check_restart { limit = 3, grace = \"10s\" }") {
		return nil
	}
	out := &checkRestartBlock{ranges: map[string]hcl.Range{"": b.DefRange()}}
	rc := d.content(b.Body, within(checkRestartSpec, s.where+" check_restart"))
	var limit int
	if d.integer(rc, "limit", &limit) {
		rng := rc.attrs["limit"].Expr.Range()
		out.ranges["limit"] = rng
		if limit < 0 {
			d.errorf(rng, "write limit = 1 or more (restart after that many failures in a row), or 0 to never restart", "check_restart: limit must not be negative, got %d", limit)
		}
		out.limit = &limit
	}
	var grace time.Duration
	if d.duration(rc, "grace", &grace) {
		out.ranges["grace"] = rc.attrs["grace"].Expr.Range()
		out.grace = &grace
	}
	var ignore bool
	if d.boolean(rc, "ignore_warnings", &ignore) {
		out.ignore = &ignore
	}
	return out
}

// mergeCheckRestart is a check's check_restart: its service's block with
// the check's own merged over it as Nomad merges them (a check's limit
// above 0, its grace if written and its ignore_warnings if true win), and
// Nomad's defaults for what neither wrote. nil when neither block exists.
func (d *decoder) mergeCheckRestart(svc, chk *checkRestartBlock) *CheckRestart {
	if svc == nil && chk == nil {
		return nil
	}
	cr := &CheckRestart{Grace: DefaultCheckRestartGrace}
	for _, b := range []*checkRestartBlock{svc, chk} {
		if b == nil {
			continue
		}
		d.pos.set(cr, "", b.ranges[""])
		if b.limit != nil && (b == svc || *b.limit > 0) {
			cr.Limit = *b.limit
			d.pos.set(cr, "limit", b.ranges["limit"])
		}
		if b.grace != nil {
			cr.Grace = *b.grace
		}
		if b.ignore != nil && (b == svc || *b.ignore) {
			cr.IgnoreWarnings = *b.ignore
		}
	}
	return cr
}

// groupCheckRestart refuses check_restart on a group's services: Nomad
// restarts the whole allocation for those, which the agent does not do.
func (v *validator) groupCheckRestart(ss []*Service, path string) {
	for _, s := range ss {
		if s == nil {
			continue
		}
		for _, c := range s.Checks {
			if c != nil && c.CheckRestart != nil && c.CheckRestart.Limit > 0 {
				v.add(c.CheckRestart, "", fmt.Sprintf("%s service %q", path, s.Name),
					"move the service into the task that serves it (a task's service restarts that task), or remove check_restart",
					"check_restart on a group service is not supported")
			}
		}
	}
}
