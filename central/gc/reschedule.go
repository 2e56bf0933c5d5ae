package gc

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// rescheduleHeld reports whether a failed allocation must stay because
// its reschedule is still to come: its reschedule tracker is what the
// replacement carries over, so collecting it would reset the lineage's
// attempts and delay (Nomad's allocGCEligible). It stays while its job
// runs, it is not stopped nor replaced, and its group's policy can still
// reschedule it: always when unlimited, else until interval has passed
// since the lineage's last reschedule.
func rescheduleHeld(a *structs.Allocation, j *jobspec.Job, now int64) bool {
	if j == nil || j.Stop || j.Status == jobspec.JobStatusDead || a.DesiredStatus == protocol.DesiredStop ||
		a.ClientStatus != protocol.AllocFailed || a.NextAllocation != "" {
		return false
	}
	tg := j.LookupTaskGroup(a.TaskGroup)
	if tg == nil {
		return false
	}
	p := tg.Reschedule
	if p == nil {
		p = jobspec.DefaultReschedule(j.Type)
	}
	switch {
	case !p.Enabled():
		return false
	case p.Unlimited, len(a.RescheduleTracker) == 0:
		return true
	}
	last := a.RescheduleTracker[len(a.RescheduleTracker)-1]
	return now-last.RescheduleTime <= int64(p.Interval)
}
