package deploywatch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

const sec = int64(time.Second)

func job(version uint64, stable bool) *jobspec.Job {
	return &jobspec.Job{ID: "web", Namespace: "default", Type: "service", Version: version, Stable: stable,
		Meta: map[string]string{"build": fmt.Sprint(version)},
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 2, Update: &jobspec.UpdateStrategy{MaxParallel: 1,
			HealthCheck: "checks", HealthyDeadline: 10 * time.Second, ProgressDeadline: time.Minute, AutoRevert: true}}}}
}

func deployment(version uint64, canaries int) *structs.Deployment {
	return &structs.Deployment{ID: "d1", Namespace: "default", JobID: "web", JobVersion: version, Status: structs.DeploymentRunning,
		TaskGroups: map[string]*structs.DeploymentState{"g": {DesiredTotal: 2, DesiredCanaries: canaries, AutoRevert: true,
			ProgressDeadline: int64(time.Minute), RequireProgressBy: 100 * sec}}}
}

func alloc(id string, created int64, healthy *bool, canary bool) *structs.Allocation {
	a := &structs.Allocation{ID: id, TaskGroup: "g", NodeID: "n1", DeploymentID: "d1", DesiredStatus: protocol.DesiredRun,
		ClientStatus: protocol.AllocRunning, CreateTime: created}
	if healthy != nil || canary {
		a.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: healthy, Canary: canary}
	}
	return a
}

func ptr(b bool) *bool { return &b }

func input(d *structs.Deployment, now int64, allocs ...*structs.Allocation) Input {
	return Input{Deployment: d, Job: job(d.JobVersion, false), Current: job(d.JobVersion, false), Allocs: allocs,
		Versions: []*jobspec.Job{job(d.JobVersion, false), job(d.JobVersion-1, true)}, Now: now, HealthMargin: time.Second}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        Input
		status    string
		desc      string
		promote   bool
		stable    bool
		revertTo  int // -1: none
		nextCheck int64
	}{
		{name: "waiting for health", in: input(deployment(2, 0), 5*sec, alloc("a1", 1*sec, nil, false)),
			revertTo: -1, nextCheck: 12 * sec},
		{name: "unhealthy report fails and reverts to the stable version",
			in:     input(deployment(2, 0), 5*sec, alloc("a1", 1*sec, ptr(false), false)),
			status: structs.DeploymentFailed, desc: "Failed due to unhealthy allocation (alloc a1) - rolling back to job version 1", revertTo: 1},
		{name: "failed alloc without a report fails", in: input(deployment(2, 0), 5*sec, func() *structs.Allocation {
			a := alloc("a1", sec, nil, false)
			a.ClientStatus = protocol.AllocFailed
			return a
		}()), status: structs.DeploymentFailed, revertTo: 1},
		{name: "no report past healthy_deadline + margin", in: input(deployment(2, 0), 13*sec, alloc("a1", 1*sec, nil, false)),
			status: structs.DeploymentFailed, desc: "Failed: an allocation reported no health within its healthy_deadline (alloc a1)", revertTo: 1},
		{name: "progress deadline", in: input(deployment(2, 0), 101*sec, alloc("a1", 95*sec, ptr(true), false)),
			status: structs.DeploymentFailed, desc: `Failed due to progress deadline (group "g")`, revertTo: 1},
		{name: "all healthy succeeds", in: input(deployment(2, 0), 5*sec, alloc("a1", sec, ptr(true), false), alloc("a2", sec, ptr(true), false)),
			status: structs.DeploymentSuccessful, stable: true, revertTo: -1},
		{name: "a stopped alloc does not count", in: input(deployment(2, 0), 5*sec, alloc("a1", sec, ptr(true), false), func() *structs.Allocation {
			a := alloc("a2", sec, ptr(true), false)
			a.DesiredStatus = protocol.DesiredStop
			return a
		}()), revertTo: -1, nextCheck: 100 * sec},
		{name: "healthy canary waits for promotion, no deadline", in: input(deployment(2, 1), 500*sec, alloc("c1", sec, ptr(true), true)),
			revertTo: -1},
		{name: "auto promote", in: func() Input {
			d := deployment(2, 1)
			d.TaskGroups["g"].AutoPromote = true
			return input(d, 5*sec, alloc("c1", sec, ptr(true), true))
		}(), promote: true, revertTo: -1},
		{name: "disconnected alloc skipped, deployment completes", in: func() Input {
			d := deployment(2, 0)
			d.TaskGroups["g"].DisconnectedSkipped = 1
			in := input(d, 50*sec, alloc("a1", sec, ptr(true), false), func() *structs.Allocation {
				a := alloc("a2", sec, nil, false)
				a.NodeID = "away"
				return a
			}())
			in.Disconnected = func(id string) bool { return id == "away" }
			return in
		}(), status: structs.DeploymentSuccessful, stable: true, revertTo: -1},
		{name: "no stable version to revert to", in: func() Input {
			in := input(deployment(2, 0), 5*sec, alloc("a1", sec, ptr(false), false))
			in.Versions = in.Versions[:1]
			return in
		}(), status: structs.DeploymentFailed, desc: "Failed due to unhealthy allocation (alloc a1) - no stable job version to auto revert to", revertTo: -1},
		{name: "a failed revert does not revert again", in: func() Input {
			in := input(deployment(2, 0), 5*sec, alloc("a1", sec, ptr(false), false))
			in.Job = job(2, false)
			in.Job.Meta = in.Versions[1].Meta // version 2 is a copy of stable version 1
			return in
		}(), status: structs.DeploymentFailed, desc: "not rolling back to stable job version 1", revertTo: -1},
		{name: "job moved on: no revert", in: func() Input {
			in := input(deployment(2, 0), 5*sec, alloc("a1", sec, ptr(false), false))
			in.Current = job(3, false)
			return in
		}(), status: structs.DeploymentFailed, revertTo: -1},
		{name: "paused: no deadline", in: func() Input {
			d := deployment(2, 0)
			d.Status = structs.DeploymentPaused
			return input(d, 500*sec, alloc("a1", 450*sec, ptr(true), false))
		}(), revertTo: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.in)
			if got.Status != tc.status || got.Promote != tc.promote || got.MarkStable != tc.stable {
				t.Fatalf("decision %+v, want status %q promote %v stable %v", got, tc.status, tc.promote, tc.stable)
			}
			if tc.desc != "" && !strings.Contains(got.Description, tc.desc) {
				t.Errorf("description %q, want %q", got.Description, tc.desc)
			}
			switch {
			case tc.revertTo < 0 && got.RevertTo != nil:
				t.Errorf("reverts to version %d, want no revert", got.RevertTo.Version)
			case tc.revertTo >= 0 && (got.RevertTo == nil || got.RevertTo.Version != uint64(tc.revertTo)):
				t.Errorf("revert %+v, want version %d", got.RevertTo, tc.revertTo)
			}
			if tc.nextCheck != 0 && got.NextCheck != tc.nextCheck {
				t.Errorf("next check %d, want %d", got.NextCheck, tc.nextCheck)
			}
		})
	}
}
