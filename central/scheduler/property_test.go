package scheduler

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// TestPlanInvariants checks, on random clusters and jobs, that a plan never
// over-commits a node's cpu or memory, never gives two live allocs on a node
// the same port, and places or queues exactly what the job asks for.
func TestPlanInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		st := newState()
		nNodes := rapid.IntRange(0, 25).Draw(rt, "nodes")
		for i := range nNodes {
			st.addNode(node(fmt.Sprintf("n%02d", i), func(n *structs.Node) {
				n.Datacenter = rapid.SampledFrom([]string{"dc1", "dc2"}).Draw(rt, "dc")
				n.Status = rapid.SampledFrom([]string{"ready", "ready", "ready", "down", "initializing"}).Draw(rt, "status")
				n.Resources = structs.Resources{
					CPU:      rapid.IntRange(0, 4000).Draw(rt, "cpu"),
					MemoryMB: rapid.IntRange(0, 4096).Draw(rt, "mem"),
				}
				n.Attributes["cpu.arch"] = rapid.SampledFrom([]string{"amd64", "arm64"}).Draw(rt, "arch")
			}))
		}
		// Other jobs' allocs, within each node's capacity, using some ports.
		other := job("other", "service", 1)
		for _, n := range st.nodes {
			cpu, mem := n.Resources.CPU, n.Resources.MemoryMB
			for k := range rapid.IntRange(0, 3).Draw(rt, "existing") {
				a := runningAlloc(other, fmt.Sprintf("%s-e%d", n.ID, k), n.ID, k)
				a.Resources = structs.Resources{CPU: rapid.IntRange(0, cpu).Draw(rt, "ecpu"), MemoryMB: rapid.IntRange(0, mem).Draw(rt, "emem")}
				cpu -= a.Resources.CPU
				mem -= a.Resources.MemoryMB
				a.Ports = []structs.AllocPort{{Label: "p", Value: rapid.SampledFrom([]int{8080, 30000, 30001, 30002}).Draw(rt, "eport") + k*100}}
				st.addAlloc(a)
			}
		}
		typ := rapid.SampledFrom([]string{"service", "batch"}).Draw(rt, "type")
		j := job("web", typ, 0, func(j *jobspec.Job) {
			j.Datacenters = []string{rapid.SampledFrom([]string{"dc1", "*", "dc*"}).Draw(rt, "jobdc")}
			j.TaskGroups = nil
			for g := range rapid.IntRange(1, 3).Draw(rt, "groups") {
				tg := &jobspec.TaskGroup{
					Name:  fmt.Sprintf("g%d", g),
					Count: rapid.IntRange(0, 30).Draw(rt, "count"),
					Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Resources: &jobspec.Resources{
						CPU: rapid.IntRange(0, 1500).Draw(rt, "tcpu"), MemoryMB: rapid.IntRange(0, 1500).Draw(rt, "tmem"),
					}}},
				}
				var ports []*jobspec.Port
				if rapid.Bool().Draw(rt, "static") {
					ports = append(ports, &jobspec.Port{Label: "s", Static: rapid.SampledFrom([]int{8080, 30001, 9090}).Draw(rt, "sport")})
				}
				for k := range rapid.IntRange(0, 3).Draw(rt, "dyn") {
					ports = append(ports, &jobspec.Port{Label: fmt.Sprintf("d%d", k)})
				}
				tg.Networks = []*jobspec.Network{{Ports: ports}}
				if rapid.Bool().Draw(rt, "archc") {
					tg.Constraints = append(tg.Constraints, &jobspec.Constraint{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"})
				}
				if rapid.Bool().Draw(rt, "distinct") {
					tg.Constraints = append(tg.Constraints, &jobspec.Constraint{Operand: OpDistinctHosts, RTarget: "true"})
				}
				j.TaskGroups = append(j.TaskGroups, tg)
			}
		})
		st.addJob(j)
		o := opts()
		o.PortMin, o.PortMax = 30000, 30000+rapid.IntRange(0, 8).Draw(rt, "portspan")
		p, err := Compute(st, eval(j), o)
		if err != nil {
			rt.Fatalf("Compute: %v", err)
		}

		// Resources and ports per node after the plan.
		after := st.applyPlan(p)
		for _, n := range st.nodes {
			var used structs.Resources
			ports := map[int]string{}
			placed := false
			for _, a := range after.byNode[n.ID] {
				if a.Terminal() {
					continue
				}
				placed = placed || a.JobID == "web"
				used = used.Add(a.Resources)
				for _, pt := range a.Ports {
					if prev, dup := ports[pt.Value]; dup {
						rt.Fatalf("node %s: port %d used by %s and %s", n.ID, pt.Value, prev, a.ID)
					}
					ports[pt.Value] = a.ID
				}
			}
			if placed && (used.CPU > n.Resources.CPU || used.MemoryMB > n.Resources.MemoryMB) {
				rt.Fatalf("node %s over-committed: uses %+v of %+v", n.ID, used, n.Resources)
			}
		}
		for _, tg := range j.TaskGroups {
			placed := 0
			for _, a := range p.Place {
				if a.TaskGroup == tg.Name {
					placed++
					if a.NodeID == "" || a.Score < -1 || a.Score > 1 {
						rt.Fatalf("bad placement %+v", a)
					}
				}
			}
			if placed+p.Queued[tg.Name] != tg.Count {
				rt.Fatalf("group %s: placed %d + queued %d != count %d", tg.Name, placed, p.Queued[tg.Name], tg.Count)
			}
			if (p.Queued[tg.Name] > 0) != (p.Failed[tg.Name] != nil) {
				rt.Fatalf("group %s: queued %d but failed %v", tg.Name, p.Queued[tg.Name], p.Failed[tg.Name])
			}
		}
	})
}
