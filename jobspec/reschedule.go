package jobspec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Reschedule delay functions.
const (
	DelayConstant    = "constant"
	DelayExponential = "exponential"
	DelayFibonacci   = "fibonacci"
)

// Nomad's floors: a reschedule policy may not retry faster than this.
const (
	RescheduleMinDelay    = 5 * time.Second
	RescheduleMinInterval = 15 * time.Second
)

var delayFunctions = []string{DelayConstant, DelayExponential, DelayFibonacci}

var rescheduleSpec = spec{attrs: []string{"attempts", "interval", "delay", "delay_function", "max_delay", "unlimited"}}

// DefaultReschedule is Nomad's reschedule policy for a job type: service
// jobs retry for ever with an exponential delay from 30s to 1h; batch jobs
// once a day after 5s. System and sysbatch jobs have none (nil): they run
// on every node.
func DefaultReschedule(jobType string) *ReschedulePolicy {
	switch jobType {
	case JobTypeService, "":
		return &ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: DelayExponential, MaxDelay: time.Hour, Unlimited: true}
	case JobTypeBatch:
		return &ReschedulePolicy{Attempts: 1, Interval: 24 * time.Hour, Delay: 5 * time.Second, DelayFunction: DelayConstant}
	}
	return nil
}

// Enabled reports whether the policy reschedules at all (attempts = 0 and
// unlimited = false turn it off).
func (r *ReschedulePolicy) Enabled() bool {
	return r != nil && (r.Attempts > 0 || r.Unlimited)
}

// rescheduleBlock is one reschedule block as written: the fields it set,
// and where.
type rescheduleBlock struct {
	p      ReschedulePolicy
	ranges map[string]hcl.Range // field → its value's range; "" → the block
}

// reschedule decodes the reschedule block of a job or group body, if any.
func (d *decoder) reschedule(c content, s spec) *rescheduleBlock {
	b := d.single(c, s, "reschedule")
	if b == nil || !d.labels(b, 0, "reschedule { ... }") {
		return nil
	}
	out := &rescheduleBlock{ranges: map[string]hcl.Range{"": b.DefRange()}}
	rc := d.content(b.Body, within(rescheduleSpec, s.where+" reschedule"))
	set := func(name string, ok bool) {
		if ok {
			out.ranges[name] = rc.attrs[name].Expr.Range()
		}
	}
	set("attempts", d.integer(rc, "attempts", &out.p.Attempts))
	set("interval", d.duration(rc, "interval", &out.p.Interval))
	set("delay", d.duration(rc, "delay", &out.p.Delay))
	set("delay_function", d.str(rc, "delay_function", &out.p.DelayFunction))
	set("max_delay", d.duration(rc, "max_delay", &out.p.MaxDelay))
	set("unlimited", d.boolean(rc, "unlimited", &out.p.Unlimited))
	return out
}

// groupReschedule merges, as Nomad does, the job type's defaults, then the
// job's block, then the group's: each field written wins over the ones
// before. It returns nil when neither block was written (Canonicalize and
// the scheduler then use the defaults).
func (d *decoder) groupReschedule(jobType string, blocks ...*rescheduleBlock) *ReschedulePolicy {
	var p *ReschedulePolicy
	for _, b := range blocks {
		if b == nil {
			continue
		}
		if p = DefaultReschedule(jobType); p == nil {
			p = &ReschedulePolicy{} // system/sysbatch: Validate refuses it
		}
		break
	}
	if p == nil {
		return nil
	}
	for _, b := range blocks {
		if b == nil {
			continue
		}
		d.pos.set(p, "", b.ranges[""])
		for field, rng := range b.ranges {
			switch field {
			case "attempts":
				p.Attempts = b.p.Attempts
			case "interval":
				p.Interval = b.p.Interval
			case "delay":
				p.Delay = b.p.Delay
			case "delay_function":
				p.DelayFunction = b.p.DelayFunction
			case "max_delay":
				p.MaxDelay = b.p.MaxDelay
			case "unlimited":
				p.Unlimited = b.p.Unlimited
			}
			if field != "" {
				d.pos.set(p, field, rng)
			}
		}
	}
	return p
}

// canonReschedule fills what a policy given as JSON left empty.
func canonReschedule(r *ReschedulePolicy, jobType string) {
	def := DefaultReschedule(jobType)
	if r == nil || def == nil {
		return
	}
	if r.DelayFunction == "" {
		r.DelayFunction = def.DelayFunction
	}
	if r.Delay == 0 {
		r.Delay = def.Delay
	}
	if r.MaxDelay == 0 && r.DelayFunction != DelayConstant {
		r.MaxDelay = max(def.MaxDelay, r.Delay)
	}
}

// reschedule checks a group's policy with Nomad's rules.
func (v *validator) reschedule(j *Job, r *ReschedulePolicy, path string) {
	if j.Type == JobTypeSystem || j.Type == JobTypeSysBatch {
		v.add(r, "", path, "remove the reschedule block: a "+j.Type+" job runs on every eligible node, and the agent's restart block retries a failing task there",
			"reschedule does not apply to %s jobs", j.Type)
		return
	}
	if r.Attempts < 0 {
		v.add(r, "attempts", path, "use 0 (no rescheduling) or more", "reschedule attempts %d is negative", r.Attempts)
		return
	}
	if !r.Enabled() {
		return // attempts = 0, unlimited = false: rescheduling is off
	}
	if r.Attempts > 0 && r.Unlimited {
		v.add(r, "attempts", path, "write unlimited = false to limit attempts within interval (service jobs default to unlimited = true), or remove attempts",
			"reschedule: attempts = %d and unlimited = true contradict each other", r.Attempts)
	}
	ok := true
	if r.Delay < RescheduleMinDelay {
		v.add(r, "delay", path, fmt.Sprintf("use a delay of %s or more", shortDuration(RescheduleMinDelay)),
			"reschedule delay %s is below the minimum of %s", shortDuration(r.Delay), shortDuration(RescheduleMinDelay))
		ok = false
	}
	if !slices.Contains(delayFunctions, r.DelayFunction) {
		fix := meanFix(r.DelayFunction, delayFunctions)
		if fix == "" {
			fix = oneOf(delayFunctions)
		}
		v.add(r, "delay_function", path, fix, "unknown reschedule delay_function %q (known: %s)", r.DelayFunction, strings.Join(delayFunctions, ", "))
		ok = false
	}
	if ok && r.DelayFunction != DelayConstant && r.MaxDelay < r.Delay {
		v.add(r, "max_delay", path, fmt.Sprintf("use a max_delay of at least the delay (%s)", shortDuration(r.Delay)),
			"reschedule max_delay %s is below delay %s", shortDuration(r.MaxDelay), shortDuration(r.Delay))
		ok = false
	}
	if r.Unlimited {
		return
	}
	if r.Interval < RescheduleMinInterval {
		v.add(r, "interval", path, fmt.Sprintf("use an interval of %s or more", shortDuration(RescheduleMinInterval)),
			"reschedule interval %s is below the minimum of %s", shortDuration(r.Interval), shortDuration(RescheduleMinInterval))
		return
	}
	if !ok {
		return
	}
	if need := r.attemptsSpan(); need > r.Interval {
		v.add(r, "interval", path, fmt.Sprintf("set interval to at least %s, or lower attempts or delay", shortDuration(need.Round(time.Second))),
			"reschedule: %d attempts with delay %s (%s) do not fit in an interval of %s", r.Attempts, shortDuration(r.Delay), r.DelayFunction, shortDuration(r.Interval))
	}
}

// attemptsSpan is the shortest interval in which Attempts reschedules fit:
// the sum of their delays under the delay function and max_delay.
func (r *ReschedulePolicy) attemptsSpan() time.Duration {
	var total, prev, cur time.Duration
	for i := 0; i < r.Attempts; i++ {
		next := NextRescheduleDelay(r, prev, cur, i)
		prev, cur = cur, next
		total += next
		if total > 1<<62 {
			break
		}
	}
	return total
}

// NextRescheduleDelay is the delay before reschedule number n (0 for the
// first) of a lineage whose last two delays were prev and last: delay for
// the first; then constant keeps delay, exponential doubles last and
// fibonacci adds prev and last, both capped at max_delay.
func NextRescheduleDelay(r *ReschedulePolicy, prev, last time.Duration, n int) time.Duration {
	if n == 0 || last <= 0 {
		return r.Delay
	}
	var d time.Duration
	switch r.DelayFunction {
	case DelayExponential:
		d = last * 2
		if d < last { // overflow
			d = r.MaxDelay
		}
	case DelayFibonacci:
		switch {
		case n == 1 || prev <= 0, prev == r.MaxDelay && last == r.Delay:
			d = last // delay, delay, 2×delay, 3×delay, 5×delay, ...; again after a reset
		default:
			d = prev + last
		}
	default:
		return r.Delay
	}
	if r.MaxDelay > 0 && d > r.MaxDelay {
		d = r.MaxDelay
	}
	return d
}
