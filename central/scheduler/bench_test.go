package scheduler

import (
	"fmt"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// benchCluster builds n nodes with realistic fingerprints: a mix of
// Raspberry Pis and x86 gateways over 4 datacenters, a few not ready, and
// one small alloc of another job on every third node.
func benchCluster(n int) *memState {
	st := newState()
	other := job("telemetry", "service", 1)
	for i := range n {
		nd := node(fmt.Sprintf("%08x-node-%05d", i*2654435761, i), func(nd *structs.Node) {
			nd.Datacenter = fmt.Sprintf("dc%d", i%4+1)
			switch i % 3 {
			case 0:
				nd.Attributes = map[string]string{"cpu.arch": "arm64", "kernel.name": "linux", "os.name": "debian", "os.version": "12.4",
					"cpu.numcores": "4", "cpu.modelname": "Cortex-A72", "driver.wasm": "1", "driver.exec": "1", "unique.hostname": nd.ID}
				nd.Resources = structs.Resources{CPU: 4 * 1500, MemoryMB: 4096}
			case 1:
				nd.Attributes = map[string]string{"cpu.arch": "arm", "kernel.name": "linux", "os.name": "raspbian", "os.version": "11.7",
					"cpu.numcores": "4", "cpu.modelname": "Cortex-A53", "driver.wasm": "1", "driver.exec": "1", "unique.hostname": nd.ID}
				nd.Resources = structs.Resources{CPU: 4 * 1200, MemoryMB: 1024}
			default:
				nd.Attributes = map[string]string{"cpu.arch": "amd64", "kernel.name": "linux", "os.name": "debian", "os.version": "12.4",
					"cpu.numcores": "8", "cpu.modelname": "Intel Atom", "driver.podman": "4.3.1", "driver.exec": "1", "unique.hostname": nd.ID}
				nd.Drivers = []string{"exec", "wasm", "podman"}
				nd.Resources = structs.Resources{CPU: 8 * 2000, MemoryMB: 16384}
			}
			nd.Meta = map[string]string{"site": fmt.Sprintf("site-%03d", i%200), "rack": fmt.Sprintf("r%d", i%10)}
			if i%50 == 0 {
				nd.Status = structs.NodeDown
			}
		})
		st.addNode(nd)
		if i%3 == 0 {
			a := runningAlloc(other, fmt.Sprintf("tele-%d", i), nd.ID, i)
			a.Resources = structs.Resources{CPU: 200, MemoryMB: 128}
			a.Ports = []structs.AllocPort{{Label: "metrics", Value: 20000 + i%1000}}
			st.addAlloc(a)
		}
	}
	return st
}

func benchJob(typ string, count int) *jobspec.Job {
	return job("shop", typ, count, func(j *jobspec.Job) {
		j.Datacenters = []string{"dc*"}
		j.Constraints = []*jobspec.Constraint{{LTarget: "${attr.kernel.name}", Operand: "=", RTarget: "linux"}}
		tg := j.TaskGroups[0]
		tg.Constraints = []*jobspec.Constraint{{LTarget: "${attr.os.version}", Operand: "version", RTarget: ">= 11"}}
		tg.Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http", To: 8080}}}}
		tg.Tasks[0].Driver = "wasm"
		tg.Tasks[0].Resources = &jobspec.Resources{CPU: 200, MemoryMB: 64}
	})
}

func benchCompute(b *testing.B, st *memState, j *jobspec.Job, want int) {
	st.addJob(j)
	e := eval(j)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := Compute(st, e, Options{NewID: seqIDs("a"), Now: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Place) != want {
			b.Fatalf("placed %d, want %d (queued %v)", len(p.Place), want, p.Queued)
		}
	}
	b.ReportMetric(float64(want*b.N)/b.Elapsed().Seconds(), "placements/s")
}

// BenchmarkPlace1000On5000 places a count=1000 service job on 5,000 nodes.
func BenchmarkPlace1000On5000(b *testing.B) {
	benchCompute(b, benchCluster(5000), benchJob("service", 1000), 1000)
}

// BenchmarkSystemOn5000 places a system job on every ready node of 5,000.
func BenchmarkSystemOn5000(b *testing.B) {
	benchCompute(b, benchCluster(5000), benchJob("system", 0), 5000-5000/50)
}

// BenchmarkReevalPlaced1000On5000 re-evaluates a count=1000 job that is
// already placed, with one node down: 1000 allocs reconciled, a handful of
// replacements placed. This is the common node-update evaluation.
func BenchmarkReevalPlaced1000On5000(b *testing.B) {
	st := benchCluster(5000)
	j := benchJob("service", 1000)
	st.addJob(j)
	p, err := Compute(st, eval(j), Options{NewID: seqIDs("a"), Now: 1})
	if err != nil || len(p.Place) != 1000 {
		b.Fatalf("setup: %v, placed %d", err, len(p.Place))
	}
	st = st.applyPlan(p)
	down := p.Place[0].NodeID
	lost := len(st.byNode[down]) - 1 // minus the telemetry alloc, if any
	for i, n := range st.nodes {
		if n.ID == down {
			c := *n
			c.Status = structs.NodeDown
			st.nodes[i] = &c
		}
	}
	e := eval(j)
	e.ID = "eval-node-down"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := Compute(st, e, Options{NewID: seqIDs("r"), Now: 2})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Stop) < 1 || len(p.Place) != len(p.Stop) {
			b.Fatalf("stop %d place %d (lost %d)", len(p.Stop), len(p.Place), lost)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}
