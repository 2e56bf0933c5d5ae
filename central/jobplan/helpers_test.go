package jobplan_test

import (
	"fmt"
	"testing"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// cluster is a real state store written with ApplyDirect, as the FSM
// writes it.
type cluster struct {
	t     testing.TB
	store *state.Store
	index uint64
	ids   int
}

func (c *cluster) apply(ops ...state.Op) *state.ApplyResult {
	c.t.Helper()
	c.index++
	res := c.store.ApplyDirect(c.index, &state.Command{Ops: ops})
	if res.Err != nil {
		c.t.Fatalf("apply: %v", res.Err)
	}
	return res
}

func (c *cluster) newID() string {
	c.ids++
	return fmt.Sprintf("%08d-0000-4000-8000-000000000000", c.ids)
}

// newCluster stores n ready nodes named pi-<i> in dc1, with mutate applied
// to each.
func newCluster(t testing.TB, n int, mutate func(i int, nd *structs.Node)) *cluster {
	c := &cluster{t: t, store: state.NewStore()}
	ops := make([]state.Op, 0, n)
	for i := range n {
		nd := &structs.Node{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012d", i*2654435761, i), Name: fmt.Sprintf("pi-%d", i),
			Datacenter: "dc1", Status: structs.NodeReady, Eligible: true, Drivers: []string{"exec"},
			Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux", "unique.network.ip-address": fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)},
			Resources:  structs.Resources{CPU: 4000, MemoryMB: 4096},
		}
		if mutate != nil {
			mutate(i, nd)
		}
		ops = append(ops, state.Op{UpsertNode: nd})
	}
	c.apply(ops...)
	return c
}

// run registers job and applies the plan the leader would make for it.
func (c *cluster) run(job *jobspec.Job) {
	c.t.Helper()
	ev := &structs.Evaluation{ID: c.newID(), Namespace: "default", JobID: job.ID, Type: job.Type, Priority: 50,
		TriggeredBy: structs.TriggerJobRegister, Status: structs.EvalPending}
	c.apply(state.Op{UpsertJob: &state.UpsertJob{Job: job, Eval: ev, Now: 1}})
	plan, err := scheduler.Compute(c.store.Snapshot(), ev, scheduler.Options{NewID: c.newID, Now: 2})
	if err != nil {
		c.t.Fatal(err)
	}
	done := *ev
	done.Status = structs.EvalComplete
	c.apply(state.Op{ApplyPlan: &state.ApplyPlan{Plan: plan, Eval: &done, Now: 2}})
}

// webJob is a service job of one group per name, count allocations each,
// with no rollout (max_parallel 0) unless the caller sets one.
func webJob(count int, groups ...string) *jobspec.Job {
	j := &jobspec.Job{ID: "web", Name: "web", Namespace: "default", Type: jobspec.JobTypeService, Priority: 50,
		Region: "global", Datacenters: []string{"dc1"}}
	for _, g := range groups {
		j.TaskGroups = append(j.TaskGroups, &jobspec.TaskGroup{Name: g, Count: count,
			Update: &jobspec.UpdateStrategy{MaxParallel: 0},
			Tasks: []*jobspec.Task{{Name: "server", Driver: "exec", Config: map[string]any{"command": "/bin/web"},
				Resources: &jobspec.Resources{CPU: 100, MemoryMB: 64}}}})
	}
	return j
}

// clone copies a job deep enough to change its groups and tasks.
func clone(j *jobspec.Job) *jobspec.Job {
	c := *j
	c.TaskGroups = nil
	for _, tg := range j.TaskGroups {
		g := *tg
		g.Tasks = nil
		for _, t := range tg.Tasks {
			tc := *t
			tc.Config = map[string]any{}
			for k, v := range t.Config {
				tc.Config[k] = v
			}
			g.Tasks = append(g.Tasks, &tc)
		}
		c.TaskGroups = append(c.TaskGroups, &g)
	}
	return &c
}
