package allocrunner

import (
	"fmt"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Restart policy modes.
const (
	ModeFail  = "fail"
	ModeDelay = "delay"
)

// restartTracker applies a RestartPolicy: at most Attempts restarts within
// Interval, each after Delay; past that, mode fail gives up and mode delay
// waits for the interval to end. An Interval of 0 never resets the count.
type restartTracker struct {
	policy      protocol.RestartPolicy
	count       int
	windowStart time.Time
}

// next decides on a task exit at now: restart after delay, or not (with
// the reason).
func (t *restartTracker) next(now time.Time) (delay time.Duration, restart bool, reason string) {
	interval := time.Duration(t.policy.IntervalMs) * time.Millisecond
	if t.windowStart.IsZero() || (interval > 0 && now.Sub(t.windowStart) > interval) {
		t.windowStart = now
		t.count = 0
	}
	t.count++
	if t.count > t.policy.Attempts {
		if t.policy.Mode == ModeDelay && interval > 0 {
			d := t.windowStart.Add(interval).Sub(now)
			if d < 0 {
				d = 0
			}
			return d, true, fmt.Sprintf("Exceeded allowed attempts %d in interval %s and mode is %q: waiting %s", t.policy.Attempts, interval, ModeDelay, d)
		}
		return 0, false, fmt.Sprintf("Exceeded allowed attempts %d in interval %s and mode is %q", t.policy.Attempts, interval, ModeFail)
	}
	d := time.Duration(t.policy.DelayMs) * time.Millisecond
	return d, true, fmt.Sprintf("Restart within policy: restarting in %s", d)
}

// restartOnSuccess reports whether task t that exited 0 is restarted:
// never for an ephemeral hook task; always for a sidecar; for a main task,
// when its policy says so (central sets OnSuccess for service and system
// jobs) or, for a policy from an older central, when the job is a service
// or system job (a job with no type is a service job).
func restartOnSuccess(a *protocol.DesiredAlloc, t *protocol.Task) bool {
	switch {
	case ephemeralHook(t):
		return false
	case t.Lifecycle != "" && t.Sidecar:
		return true
	case taskRestartPolicy(a, t).OnSuccess:
		return true
	}
	switch a.JobType {
	case "", "service", "system":
		return true
	}
	return false
}

// taskRestartPolicy is the policy that applies to task t: its own, else
// the allocation's.
func taskRestartPolicy(a *protocol.DesiredAlloc, t *protocol.Task) protocol.RestartPolicy {
	if t.Restart != nil {
		return *t.Restart
	}
	return a.Restart
}
