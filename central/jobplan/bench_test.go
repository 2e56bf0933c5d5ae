package jobplan_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// benchFleet is 5,000 nodes over 4 datacenters (Pis and x86 gateways, one
// in fifty down), each third running an allocation of another job.
func benchFleet(b *testing.B) *cluster {
	c := newCluster(b, 5000, func(i int, nd *structs.Node) {
		nd.Datacenter = fmt.Sprintf("dc%d", i%4+1)
		if i%3 == 2 {
			nd.Attributes["cpu.arch"] = "amd64"
			nd.Drivers = []string{"exec", "podman"}
			nd.Resources = structs.Resources{CPU: 16000, MemoryMB: 16384}
		}
		nd.Meta = map[string]string{"site": fmt.Sprintf("site-%03d", i%200)}
		if i%50 == 0 {
			nd.Status = structs.NodeDown
		}
	})
	other := webJob(1700, "telemetry")
	other.ID, other.Name, other.Datacenters = "telemetry", "telemetry", []string{"dc*"}
	c.run(other)
	return c
}

// benchJob is a 10-group service job, 5 allocations a group, with a
// constraint, a dynamic port and a service per group.
func benchJob() *jobspec.Job {
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("g%d", i)
	}
	j := webJob(5, names...)
	j.Datacenters = []string{"dc*"}
	j.Constraints = []*jobspec.Constraint{{LTarget: "${attr.kernel.name}", Operand: "=", RTarget: "linux"}}
	for _, tg := range j.TaskGroups {
		tg.Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http", To: 8080}}}}
		tg.Services = []*jobspec.Service{{Name: "web-" + tg.Name, PortLabel: "http", Address: "${attr.unique.network.ip-address}"}}
		tg.Update = &jobspec.UpdateStrategy{MaxParallel: 1, HealthCheck: "task_states", MinHealthyTime: 10 * time.Second,
			HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute}
	}
	return j
}

func benchPlan(b *testing.B, c *cluster, job *jobspec.Job, check func(*jobplan.Result) error) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		res, err := jobplan.Compute(c.store.Snapshot(), job, jobplan.Options{NewID: c.newID, Now: 3})
		if err != nil {
			b.Fatal(err)
		}
		if err := check(res); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time (user + system, every thread: GC included) per plan: on a
	// shared machine the wall time also counts the waits for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlanNew10Groups5000Nodes plans a new 10-group job (50
// placements) on 5,000 nodes: issue #16's goal is ≤ 50 ms.
func BenchmarkPlanNew10Groups5000Nodes(b *testing.B) {
	c := benchFleet(b)
	benchPlan(b, c, benchJob(), func(r *jobplan.Result) error {
		if n := len(r.Allocations); n != 50 || len(r.FailedTGAllocs) > 0 {
			return fmt.Errorf("planned %d allocations (failures %v), want 50 placements", n, r.FailedTGAllocs)
		}
		return nil
	})
}

// BenchmarkPlanUpdate10Groups5000Nodes plans a new version of the running
// job above that changes every task (a rollout: one destructive update per
// group, the rest ignored) and adds an allocation to each group.
func BenchmarkPlanUpdate10Groups5000Nodes(b *testing.B) {
	c := benchFleet(b)
	c.run(benchJob())
	next := clone(benchJob())
	for _, tg := range next.TaskGroups {
		tg.Count = 6
		tg.Tasks[0].Config["command"] = "/bin/web2"
	}
	benchPlan(b, c, next, func(r *jobplan.Result) error {
		u := r.Annotations.DesiredTGUpdates["g0"]
		if u.DestructiveUpdate != 1 || u.Place != 1 || u.Ignore != 4 {
			return fmt.Errorf("group g0: %+v, want 1 destructive update, 1 placement, 4 ignored", u)
		}
		return nil
	})
}
