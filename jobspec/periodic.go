package jobspec

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/cronexpr"
)

// PeriodicLaunchSuffix joins a periodic job's ID and a launch's unix time
// into its child's ID: <id>/periodic-<unix>, as Nomad names them.
const PeriodicLaunchSuffix = "/periodic-"

// maxCronFields is the most fields a cron expression may have: seconds,
// minutes, hours, day of month, month, day of week, year. cronexpr
// ignores fields past the seventh; we refuse them.
const maxCronFields = 7

var periodicSpec = spec{attrs: []string{"cron", "crons", "prohibit_overlap", "time_zone", "enabled"}}

// periodic decodes a job's periodic block, or returns nil. Defaults are
// Nomad's: enabled, overlap allowed, UTC.
func (d *decoder) periodic(c content, s spec) *Periodic {
	b := d.single(c, s, "periodic")
	if b == nil || !d.labels(b, 0, `periodic { crons = ["*/15 * * * *"] }`) {
		return nil
	}
	p := &Periodic{Enabled: true}
	d.pos.set(p, "", b.DefRange())
	pc := d.content(b.Body, within(periodicSpec, s.where+" periodic"))
	var cron string
	hasCron := d.str(pc, "cron", &cron)
	crons, hasCrons := d.strList(pc, "crons")
	switch {
	case hasCron && hasCrons:
		d.errorf(pc.attrs["cron"].Range(), `keep only crons = ["..."] (cron is its older, single form)`,
			"periodic sets both cron and crons")
	case hasCron:
		p.Crons = []string{cron}
		d.pos.set(p, "crons", pc.attrs["cron"].Expr.Range())
	case hasCrons:
		p.Crons = crons
		d.pos.set(p, "crons", pc.attrs["crons"].Expr.Range())
	}
	d.boolean(pc, "prohibit_overlap", &p.ProhibitOverlap)
	if d.str(pc, "time_zone", &p.TimeZone) {
		d.pos.set(p, "time_zone", pc.attrs["time_zone"].Expr.Range())
	}
	d.boolean(pc, "enabled", &p.Enabled)
	return p
}

// periodic checks a job's periodic block: Nomad's rules (batch or sysbatch
// only, a cron expression that parses, a time zone Go knows).
func (v *validator) periodic(j *Job, path string) {
	p := j.Periodic
	if p == nil || j.ParentID != "" {
		return
	}
	ppath := path + " periodic"
	if !RunsToCompletion(j.Type) {
		v.add(p, "", ppath, `set type = "batch" (or "sysbatch") on the job: each launch runs to completion`,
			"a periodic job must be of type \"batch\" or \"sysbatch\", not %q", j.Type)
	}
	if len(p.Crons) == 0 {
		v.add(p, "", ppath, `set crons = ["*/15 * * * *"] (or cron = "...")`, "periodic has no cron expression")
	}
	for _, c := range p.Crons {
		if err := checkCron(c); err != nil {
			v.add(p, "crons", ppath, "write 5 to 7 fields ([seconds] minutes hours day-of-month month day-of-week [year]) or @hourly, @daily, @weekly, @monthly, @yearly",
				"bad cron expression %q: %v", c, err)
		}
	}
	if _, err := p.Location(); err != nil {
		summary := fmt.Sprintf("unknown time zone %q", p.TimeZone)
		if p.TimeZone == "Local" {
			summary = `time zone "Local" is each server's own: servers in different zones would launch at different times`
		}
		v.add(p, "time_zone", ppath, `use an IANA time zone name such as "UTC", "Europe/Berlin" or "America/New_York"`, "%s", summary)
	}
}

// checkCron parses one cron expression.
func checkCron(c string) error {
	if n := len(strings.Fields(c)); n > maxCronFields {
		return fmt.Errorf("%d fields, at most %d", n, maxCronFields)
	}
	_, err := parseCron(c)
	return err
}

// parseCron parses one expression, turning a panic of the parser into an
// error (Nomad guards it the same way).
func parseCron(c string) (e *cronexpr.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("cannot be parsed")
		}
	}()
	return cronexpr.Parse(c)
}

// Location is the time zone the crons are read in: UTC unless set. "Local"
// is refused: servers in different zones would launch at different times.
func (p *Periodic) Location() (*time.Location, error) {
	switch p.TimeZone {
	case "":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("time zone \"Local\" depends on the server's clock settings: name the zone")
	}
	if loc, ok := zones.Load(p.TimeZone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, err
	}
	zones.Store(p.TimeZone, loc) // at most the few hundred zones Go knows
	return loc, nil
}

// zones caches loaded time zones by name (LoadLocation reads a file each
// time; a Location is safe to share).
var zones sync.Map

// schedule is a periodic block parsed for computing launches. cronexpr's
// Next writes to the parsed expression: a schedule belongs to one
// goroutine.
type schedule struct {
	loc   *time.Location
	crons []string
	exprs []*cronexpr.Expression
}

func (p *Periodic) schedule() (*schedule, error) {
	loc, err := p.Location()
	if err != nil {
		return nil, err
	}
	s := &schedule{loc: loc, crons: p.Crons}
	for _, c := range p.Crons {
		if err := checkCron(c); err != nil {
			return nil, fmt.Errorf("cron expression %q: %w", c, err)
		}
		e, _ := parseCron(c)
		s.exprs = append(s.exprs, e)
	}
	return s, nil
}

// next returns the earliest time after t that any cron names.
func (s *schedule) next(t time.Time) (time.Time, error) {
	var next time.Time
	for i, e := range s.exprs {
		n, err := cronNext(e, t.In(s.loc))
		if err != nil {
			return time.Time{}, fmt.Errorf("cron expression %q: %w", s.crons[i], err)
		}
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next, nil
}

// cronNext is e.Next with a panic of the library turned into an error.
func cronNext(e *cronexpr.Expression, t time.Time) (n time.Time, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = time.Time{}, fmt.Errorf("no next time after %s", t.Format(time.RFC3339))
		}
	}()
	return e.Next(t), nil
}

// Next returns the first launch strictly after t: the earliest of what
// the crons name, read in the job's time zone (so a daily 02:30 in
// America/New_York is skipped on the day the clocks spring forward over
// it, and runs twice on the day they fall back over it, as Nomad's). The
// zero time means no launch will ever come.
func (p *Periodic) Next(t time.Time) (time.Time, error) {
	s, err := p.schedule()
	if err != nil {
		return time.Time{}, err
	}
	return s.next(t)
}

// Latest returns the last launch in (after, now], or the zero time if none
// falls there. A leader that took office late launches only that one, not
// every launch it missed.
func (p *Periodic) Latest(after, now time.Time) (time.Time, error) {
	if !now.After(after) {
		return time.Time{}, nil
	}
	s, err := p.schedule()
	if err != nil {
		return time.Time{}, err
	}
	// Look back from now over windows that grow four-fold until one holds
	// a launch, then walk forward through it: the walk stays short even
	// when launches come every second and after is long ago.
	span := now.Sub(after) // saturates
	for d := time.Second; ; d *= 4 {
		from := now.Add(-d)
		if d >= span || d > math.MaxInt64/4 {
			from = after
		}
		t, err := s.next(from)
		if err != nil {
			return time.Time{}, err
		}
		if !t.IsZero() && !t.After(now) {
			for {
				n, err := s.next(t)
				if err != nil {
					return time.Time{}, err
				}
				if n.IsZero() || n.After(now) {
					return t, nil
				}
				t = n
			}
		}
		if from.Equal(after) {
			return time.Time{}, nil
		}
	}
}

// PeriodicChildID is the ID of the child a periodic job launches at t.
func PeriodicChildID(parentID string, t time.Time) string {
	return fmt.Sprintf("%s%s%d", parentID, PeriodicLaunchSuffix, t.Unix())
}

// PeriodicChild returns the child job a periodic job launches at t: a copy
// of the job with the child's ID and name, ParentID set and the periodic
// block cleared (as Nomad's), ready to register.
func (j *Job) PeriodicChild(t time.Time) *Job {
	c := *j // the groups are shared: registered jobs are not modified
	c.ID = PeriodicChildID(j.ID, t)
	c.Name = c.ID
	c.ParentID = j.ID
	c.Periodic = nil
	c.Stop, c.Stable = false, false
	c.Status, c.SubmitTime, c.Version = "", 0, 0
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	return &c
}

// NextLaunch is a periodic job's next launch after now: zero when the job
// is not an enabled, running periodic parent, or its crons name no time
// to come.
func (j *Job) NextLaunch(now time.Time) time.Time {
	if !j.IsParent() || j.Periodic == nil || !j.Periodic.Enabled || j.Stop {
		return time.Time{}
	}
	next, err := j.Periodic.Next(now)
	if err != nil {
		return time.Time{}
	}
	return next
}
