package scheduler

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// rolloutSim is a job's rollout as central would see it: a State with a
// deployment table, plans applied, health reported by hand.
type rolloutSim struct {
	t    simT
	st   *memState
	deps []*structs.Deployment // newest last
	ids  func() string
	now  int64
}

func (r *rolloutSim) LatestDeploymentByJob(ns, id string) *structs.Deployment {
	for i := len(r.deps) - 1; i >= 0; i-- {
		if r.deps[i].Namespace == ns && r.deps[i].JobID == id {
			return r.deps[i]
		}
	}
	return nil
}
func (r *rolloutSim) JobByID(ns, id string) *jobspec.Job { return r.st.JobByID(ns, id) }
func (r *rolloutSim) Nodes() []*structs.Node             { return r.st.Nodes() }
func (r *rolloutSim) AllocsByJob(ns, id string) []*structs.Allocation {
	return r.st.AllocsByJob(ns, id)
}
func (r *rolloutSim) AllocsByNode(id string) []*structs.Allocation { return r.st.AllocsByNode(id) }

// simT is what the sim needs of *testing.T and *rapid.T.
type simT interface {
	Helper()
	Fatalf(format string, args ...any)
}

func newRolloutSim(t simT, nodes int) *rolloutSim {
	st := newState()
	for i := range nodes {
		st.addNode(node(fmt.Sprintf("n%02d", i)))
	}
	return &rolloutSim{t: t, st: st, ids: seqIDs("id"), now: 1_000}
}

// step computes and applies one plan; new allocs start running.
func (r *rolloutSim) step(j *jobspec.Job) *structs.Plan {
	r.t.Helper()
	r.st.addJob(j)
	r.now += int64(time.Second)
	p, err := Compute(r, eval(j), Options{NewID: r.ids, Now: r.now})
	if err != nil {
		r.t.Fatalf("Compute: %v", err)
	}
	for _, u := range p.DeploymentUpdates {
		r.setStatus(u.DeploymentID, u.Status)
	}
	if p.Deployment != nil {
		if cur := r.byID(p.Deployment.ID); cur == nil {
			r.deps = append(r.deps, p.Deployment)
		} else {
			for name, g := range p.Deployment.TaskGroups {
				cur.TaskGroups[name].DisconnectedSkipped = g.DisconnectedSkipped
			}
		}
	}
	r.st = r.st.applyPlan(p)
	for _, a := range r.st.allocs {
		if a.ClientStatus == protocol.AllocPending {
			a.ClientStatus = protocol.AllocRunning
		}
		if a.DesiredStatus == protocol.DesiredStop && a.ClientStatus == protocol.AllocRunning {
			a.ClientStatus = protocol.AllocComplete
		}
	}
	return p
}

func (r *rolloutSim) byID(id string) *structs.Deployment {
	for _, d := range r.deps {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (r *rolloutSim) setStatus(id, status string) {
	if d := r.byID(id); d != nil {
		d.Status = status
	}
}

func (r *rolloutSim) health(a *structs.Allocation, ok bool) {
	ds := structs.AllocDeploymentStatus{}
	if a.DeploymentStatus != nil {
		ds = *a.DeploymentStatus
	}
	ds.Healthy, ds.Timestamp = &ok, r.now
	a.DeploymentStatus = &ds
}

// live returns the job's live allocs of version v (any version: v < 0).
func (r *rolloutSim) live(v int) []*structs.Allocation {
	var out []*structs.Allocation
	for _, a := range r.st.allocs {
		if live(a) && (v < 0 || a.JobVersion == uint64(v)) {
			out = append(out, a)
		}
	}
	return out
}

func (r *rolloutSim) healthyAll(v int) {
	for _, a := range r.live(v) {
		if !isHealthy(a) {
			r.health(a, true)
		}
	}
}

func rollingJob(version uint64, count, maxParallel, canary int) *jobspec.Job {
	return job("web", "service", count, func(j *jobspec.Job) {
		j.Version = version
		j.TaskGroups[0].Tasks[0].Env = map[string]string{"V": fmt.Sprint(version)} // destructive change
		j.TaskGroups[0].Update = &jobspec.UpdateStrategy{MaxParallel: maxParallel, HealthCheck: "checks",
			MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute, Canary: canary}
	})
}

func countStops(p *structs.Plan, desc string) int {
	n := 0
	for _, a := range p.Stop {
		if a.DesiredDescription == desc {
			n++
		}
	}
	return n
}

func TestFirstVersionCreatesDeploymentAndPlacesAll(t *testing.T) {
	r := newRolloutSim(t, 3)
	p := r.step(rollingJob(0, 3, 1, 0))
	if p.Deployment == nil || p.Deployment.JobVersion != 0 || p.Deployment.TaskGroups["web"].DesiredTotal != 3 {
		t.Fatalf("deployment %+v", p.Deployment)
	}
	if len(p.Place) != 3 {
		t.Fatalf("placed %d, want all 3 (max_parallel gates only replacements)", len(p.Place))
	}
	for _, a := range p.Place {
		if a.DeploymentID != p.Deployment.ID {
			t.Errorf("alloc %s deployment %q, want %q", a.ID, a.DeploymentID, p.Deployment.ID)
		}
	}
	if g := p.Deployment.TaskGroups["web"]; g.RequireProgressBy != r.now+int64(10*time.Minute) {
		t.Errorf("require_progress_by %d", g.RequireProgressBy)
	}
}

func TestNoUpdateBlockReplacesAtOnce(t *testing.T) {
	r := newRolloutSim(t, 3)
	j := rollingJob(0, 3, 0, 0)
	r.step(j)
	j2 := rollingJob(1, 3, 0, 0)
	p := r.step(j2)
	if p.Deployment != nil || countStops(p, DescUpdating) != 3 {
		t.Fatalf("max_parallel 0: deployment %v, %d stopped; want none and 3", p.Deployment, countStops(p, DescUpdating))
	}
}

func TestRollingUpdateWaitsForHealth(t *testing.T) {
	r := newRolloutSim(t, 3)
	r.step(rollingJob(0, 3, 1, 0))
	r.healthyAll(0)
	r.setStatus(r.deps[0].ID, structs.DeploymentSuccessful)

	v1 := rollingJob(1, 3, 1, 0)
	p := r.step(v1)
	if p.Deployment == nil || p.Deployment.JobVersion != 1 {
		t.Fatalf("no deployment for version 1: %+v", p.Deployment)
	}
	if n := countStops(p, DescUpdating); n != 1 || len(p.Place) != 1 {
		t.Fatalf("first wave: %d stopped, %d placed; want 1 and 1", n, len(p.Place))
	}
	// The replacement is not healthy yet: nothing more.
	if p := r.step(v1); countStops(p, DescUpdating) != 0 || len(p.Place) != 0 {
		t.Fatalf("before health: %d stopped, %d placed; want nothing", countStops(p, DescUpdating), len(p.Place))
	}
	r.healthyAll(1)
	if p := r.step(v1); countStops(p, DescUpdating) != 1 {
		t.Fatalf("after health: %d stopped, want 1", countStops(p, DescUpdating))
	}
	r.healthyAll(1)
	r.step(v1)
	r.healthyAll(1)
	if p := r.step(v1); len(p.Place)+len(p.Stop) != 0 {
		t.Fatalf("rolled out, yet the plan has %d places and %d stops", len(p.Place), len(p.Stop))
	}
	if got := len(r.live(1)); got != 3 {
		t.Fatalf("%d allocs of version 1, want 3", got)
	}
}

func TestFailedOrPausedDeploymentStopsNothingMore(t *testing.T) {
	for _, status := range []string{structs.DeploymentFailed, structs.DeploymentPaused} {
		t.Run(status, func(t *testing.T) {
			r := newRolloutSim(t, 3)
			r.step(rollingJob(0, 3, 2, 0))
			r.healthyAll(0)
			v1 := rollingJob(1, 3, 2, 0)
			r.step(v1)
			for _, a := range r.live(1) {
				r.health(a, true)
			}
			r.setStatus(r.deps[len(r.deps)-1].ID, status)
			if p := r.step(v1); countStops(p, DescUpdating) != 0 {
				t.Fatalf("%s deployment: %d old allocs stopped", status, countStops(p, DescUpdating))
			}
			if status == structs.DeploymentPaused {
				r.setStatus(r.deps[len(r.deps)-1].ID, structs.DeploymentRunning)
				if p := r.step(v1); countStops(p, DescUpdating) != 1 {
					t.Fatalf("resumed: %d stopped, want the last old alloc", countStops(p, DescUpdating))
				}
			}
		})
	}
}

func TestCanariesWaitForPromotion(t *testing.T) {
	r := newRolloutSim(t, 4)
	r.step(rollingJob(0, 3, 1, 0))
	r.healthyAll(0)
	v1 := rollingJob(1, 3, 1, 1)
	p := r.step(v1)
	if len(p.Stop) != 0 || len(p.Place) != 1 {
		t.Fatalf("canary wave: %d stopped, %d placed; want 0 and 1", len(p.Stop), len(p.Place))
	}
	c := p.Place[0]
	if c.DeploymentStatus == nil || !c.DeploymentStatus.Canary || c.PreviousAllocation != "" {
		t.Fatalf("canary alloc %+v", c.DeploymentStatus)
	}
	if d := p.Deployment; d.TaskGroups["web"].DesiredCanaries != 1 || d.StatusDescription != structs.DescDeploymentNeedsPromotion {
		t.Fatalf("deployment %+v %+v", d, d.TaskGroups["web"])
	}
	if got := len(r.live(-1)); got != 4 {
		t.Fatalf("%d live allocs, want count 3 + 1 canary", got)
	}
	r.healthyAll(1)
	if p := r.step(v1); len(p.Stop)+len(p.Place) != 0 {
		t.Fatalf("healthy but unpromoted canary: %d stops, %d places", len(p.Stop), len(p.Place))
	}
	r.deps[len(r.deps)-1].TaskGroups["web"].Promoted = true
	p = r.step(v1)
	if countStops(p, DescReplacedByCanary) != 1 || countStops(p, DescUpdating) != 1 {
		t.Fatalf("promoted: stops %v", p.Stop)
	}
	if got := len(r.live(-1)); got != 3 {
		t.Fatalf("%d live allocs after promotion, want 3", got)
	}
}

func TestFailedCanariesAreStopped(t *testing.T) {
	r := newRolloutSim(t, 4)
	r.step(rollingJob(0, 2, 1, 0))
	v1 := rollingJob(1, 2, 1, 1)
	r.step(v1)
	r.setStatus(r.deps[len(r.deps)-1].ID, structs.DeploymentFailed)
	p := r.step(v1)
	if countStops(p, DescCanaryNotNeeded) != 1 || countStops(p, DescUpdating) != 0 {
		t.Fatalf("failed canary deployment: stops %v", p.Stop)
	}
}

func TestNewVersionCancelsActiveDeployment(t *testing.T) {
	r := newRolloutSim(t, 3)
	r.step(rollingJob(0, 3, 1, 0))
	first := r.deps[0].ID
	p := r.step(rollingJob(1, 3, 1, 0))
	if len(p.DeploymentUpdates) != 1 || p.DeploymentUpdates[0].DeploymentID != first || p.DeploymentUpdates[0].Status != structs.DeploymentCancelled {
		t.Fatalf("updates %+v", p.DeploymentUpdates)
	}
	if p.Deployment == nil || p.Deployment.ID == first {
		t.Fatal("no new deployment for version 1")
	}
}

func TestInplaceUpdateJoinsDeploymentHealthy(t *testing.T) {
	r := newRolloutSim(t, 3)
	r.step(rollingJob(0, 3, 1, 0))
	r.healthyAll(0)
	v1 := rollingJob(0, 3, 1, 0)
	v1.Version = 1
	v1.TaskGroups[0].Count = 3 // same spec: in place
	p := r.step(v1)
	if countStops(p, DescUpdating) != 0 || len(p.Place) != 3 || p.Deployment == nil {
		t.Fatalf("in-place: %d stops, %d places, deployment %v", len(p.Stop), len(p.Place), p.Deployment)
	}
	for _, a := range p.Place {
		if a.DeploymentID != p.Deployment.ID || !isHealthy(a) {
			t.Errorf("in-place alloc %s: deployment %q healthy %v", a.ID, a.DeploymentID, isHealthy(a))
		}
	}
}

func TestDisconnectedOldAllocIsSkipped(t *testing.T) {
	r := newRolloutSim(t, 3)
	j0 := rollingJob(0, 3, 1, 0)
	j0.TaskGroups[0].Disconnect = &jobspec.Disconnect{LostAfter: time.Hour}
	r.step(j0)
	r.healthyAll(0)
	r.st.nodes[0].Status = structs.NodeDisconnected
	v1 := rollingJob(1, 3, 1, 0)
	v1.TaskGroups[0].Disconnect = j0.TaskGroups[0].Disconnect
	p := r.step(v1)
	if p.Deployment == nil || p.Deployment.TaskGroups["web"].DisconnectedSkipped != 1 {
		t.Fatalf("deployment does not record the skipped alloc: %+v", p.Deployment)
	}
	for _, a := range p.Stop {
		if a.NodeID == "n00" {
			t.Fatalf("stopped %s on the disconnected node", a.ID)
		}
	}
}

// TestRolloutInvariants drives random rollouts (health reports, failures,
// promotions, pauses, new versions) and checks after every plan:
// never more than count+canary live allocs of the group; never more than
// max_parallel old allocs stopped whose replacement is not healthy; a
// failed deployment never stops another old alloc.
func TestRolloutInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		count := rapid.IntRange(1, 6).Draw(rt, "count")
		maxPar := rapid.IntRange(1, 3).Draw(rt, "max_parallel")
		canary := rapid.IntRange(0, 2).Draw(rt, "canary")
		r := newRolloutSim(rt, count+canary+2)
		version := uint64(0)
		j := rollingJob(version, count, maxPar, canary)
		r.step(j)
		r.healthyAll(0)
		for range rapid.IntRange(1, 25).Draw(rt, "steps") {
			d := r.LatestDeploymentByJob("default", "web")
			switch rapid.IntRange(0, 9).Draw(rt, "event") {
			case 0:
				version++
				j = rollingJob(version, count, maxPar, canary)
			case 1, 2, 3:
				// Some unknown-health new allocs report.
				for _, a := range r.live(int(version)) {
					if a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil {
						if rapid.IntRange(0, 4).Draw(rt, "bad") == 0 {
							r.health(a, false)
							if d != nil && d.Active() {
								d.Status = structs.DeploymentFailed // the watcher's answer
							}
						} else if rapid.Bool().Draw(rt, "report") {
							r.health(a, true)
						}
					}
				}
			case 4:
				if d != nil && d.Active() {
					d.Status = structs.DeploymentFailed
				}
			case 5:
				if d != nil && d.Active() && canaryHealthy(r, d) {
					for _, g := range d.TaskGroups {
						g.Promoted = true
					}
				}
			case 6:
				if d != nil && d.Status == structs.DeploymentRunning {
					d.Status = structs.DeploymentPaused
				} else if d != nil && d.Status == structs.DeploymentPaused {
					d.Status = structs.DeploymentRunning
				}
			}
			before := r.LatestDeploymentByJob("default", "web")
			failedBefore := before != nil && before.Status == structs.DeploymentFailed && before.JobVersion == j.Version
			p := r.step(j)
			if failedBefore && countStops(p, DescUpdating)+countStops(p, DescReplacedByCanary) > 0 {
				rt.Fatalf("failed deployment stopped old allocs: %v", p.Stop)
			}
			if n := len(r.live(-1)); n > count+canary {
				rt.Fatalf("%d live allocs, more than count %d + canary %d", n, count, canary)
			}
			if n := stoppedUnreplaced(r); n > maxPar {
				rt.Fatalf("%d old allocs stopped before their replacements are healthy (max_parallel %d)", n, maxPar)
			}
		}
	})
}

func canaryHealthy(r *rolloutSim, d *structs.Deployment) bool {
	n := 0
	for _, a := range r.live(int(d.JobVersion)) {
		if isCanary(a) && a.DeploymentID == d.ID {
			if !isHealthy(a) {
				return false
			}
			n++
		}
	}
	return n >= d.TaskGroups["web"].DesiredCanaries
}

// stoppedUnreplaced counts old allocs stopped for an update whose
// replacement, placed by the current deployment, is live and not healthy.
// (An earlier version's rollout is over once a newer version supersedes
// it, as in Nomad.)
func stoppedUnreplaced(r *rolloutSim) int {
	d := r.LatestDeploymentByJob("default", "web")
	if d == nil {
		return 0
	}
	byPrev := map[string]*structs.Allocation{}
	for _, a := range r.st.allocs {
		if a.PreviousAllocation != "" && a.DeploymentID == d.ID {
			byPrev[a.PreviousAllocation] = a
		}
	}
	n := 0
	for _, a := range r.st.allocs {
		if a.DesiredDescription != DescUpdating {
			continue
		}
		if next := byPrev[a.ID]; next != nil && live(next) && !isHealthy(next) {
			n++
		}
	}
	return n
}

// A system job rolls out max_parallel nodes at a time, gated on health
// like a service group.
func TestSystemJobRollsOutMaxParallelNodes(t *testing.T) {
	r := newRolloutSim(t, 5)
	sys := func(version uint64) *jobspec.Job {
		j := rollingJob(version, 0, 2, 0)
		j.Type = jobspec.JobTypeSystem
		return j
	}
	p := r.step(sys(0))
	if len(p.Place) != 5 || p.Deployment == nil || p.Deployment.TaskGroups["web"].DesiredTotal != 5 {
		t.Fatalf("version 0: %d placed, deployment %+v", len(p.Place), p.Deployment)
	}
	r.healthyAll(0)
	r.setStatus(p.Deployment.ID, structs.DeploymentSuccessful)
	v1 := sys(1)
	for wave := 1; wave <= 3; wave++ {
		p := r.step(v1)
		want := 2
		if wave == 3 {
			want = 1
		}
		if n := countStops(p, DescUpdating); n != want || len(p.Place) != want {
			t.Fatalf("wave %d: %d nodes stopped, %d placed; want %d", wave, n, len(p.Place), want)
		}
		if p := r.step(v1); countStops(p, DescUpdating) != 0 {
			t.Fatalf("wave %d: more nodes updated before the wave is healthy", wave)
		}
		r.healthyAll(1)
	}
	if got := len(r.live(1)); got != 5 {
		t.Fatalf("%d nodes run version 1, want 5", got)
	}
}

// BenchmarkSystemRollout1000 rolls a system job out to 1,000 nodes with
// max_parallel = 100 (bench/README.md): each iteration is the whole
// rollout, ten waves, every wave one evaluation that stops and places 100
// allocations and one evaluation that finds the wave not yet healthy.
// What central spends per wave, against the min_healthy_time each wave
// waits for on the nodes, is its overhead.
func BenchmarkSystemRollout1000(b *testing.B) {
	sys := func(version uint64) *jobspec.Job {
		j := rollingJob(version, 0, 100, 0)
		j.Type = jobspec.JobTypeSystem
		j.TaskGroups[0].Tasks[0].Resources = &jobspec.Resources{CPU: 50, MemoryMB: 32}
		return j
	}
	for b.Loop() {
		b.StopTimer()
		r := newRolloutSim(b, 1000)
		r.step(sys(0))
		r.healthyAll(0)
		r.deps[0].Status = structs.DeploymentSuccessful
		v1 := sys(1)
		b.StartTimer()
		for range 10 {
			r.step(v1)
			r.step(v1) // a health report of the wave's first alloc: nothing more to do yet
			b.StopTimer()
			r.healthyAll(1)
			b.StartTimer()
		}
		b.StopTimer()
		if got := len(r.live(1)); got != 1000 {
			b.Fatalf("%d nodes on version 1 after 10 waves", got)
		}
		b.StartTimer()
	}
}

// A group asks for no more canaries than it has old allocs to shadow.
func TestCanariesBoundedByOldAllocs(t *testing.T) {
	r := newRolloutSim(t, 4)
	r.step(rollingJob(0, 1, 1, 0))
	r.healthyAll(0)
	p := r.step(rollingJob(1, 1, 1, 2))
	if g := p.Deployment.TaskGroups["web"]; g.DesiredCanaries != 1 || len(p.Place) != 1 {
		t.Fatalf("count 1, canary 2: desired canaries %d, placed %d; want 1 and 1", g.DesiredCanaries, len(p.Place))
	}
}

// Stopping the job cancels its running deployment.
func TestJobStopCancelsDeployment(t *testing.T) {
	r := newRolloutSim(t, 3)
	r.step(rollingJob(0, 2, 1, 0))
	stopped := rollingJob(1, 2, 1, 0)
	stopped.Stop = true
	p := r.step(stopped)
	if len(p.DeploymentUpdates) != 1 || p.DeploymentUpdates[0].Status != structs.DeploymentCancelled || p.Deployment != nil {
		t.Fatalf("stop: updates %+v, deployment %v", p.DeploymentUpdates, p.Deployment)
	}
	if len(r.live(-1)) != 0 {
		t.Fatalf("%d allocs still live", len(r.live(-1)))
	}
}
