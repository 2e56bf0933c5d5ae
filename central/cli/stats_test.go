package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

// statsBackend adds fixed stats to the test backend.
type statsBackend struct {
	*apitest.Backend
	latest map[string]*api.NodeStatsSample
	alloc  *api.AllocStats
}

func (b *statsBackend) NodeStats(string) ([]api.NodeStatsSample, error) { return nil, nil }
func (b *statsBackend) LatestNodeStats(id string) (*api.NodeStatsSample, error) {
	return b.latest[id], nil
}
func (b *statsBackend) AllocStats(context.Context, api.AllocStatsRequest) (*api.AllocStats, error) {
	return b.alloc, nil
}

func TestStatusStats(t *testing.T) {
	temp, pct, secs, mem := 48.3, 99.5, 12.9, uint64(16<<20)
	b := &statsBackend{Backend: apitest.New(),
		latest: map[string]*api.NodeStatsSample{"n1": {Time: time.Now().UnixMilli(), CPUPercent: 12.5, MemoryUsedBytes: 300 << 20,
			MemoryTotalBytes: 1 << 30, DiskUsedBytes: 5 << 30, DiskAvailBytes: 20 << 30, TemperatureC: &temp, Load1: 0.42}},
		alloc: &api.AllocStats{AllocID: alloc1, NodeID: "n1", CPUPercent: pct, MemoryUsedBytes: mem, Tasks: map[string]api.TaskStats{
			"server": {CPUPercent: &pct, CPUTotalSeconds: &secs, MemoryUsedBytes: &mem},
			"guest":  {MemoryUsedBytes: &mem},
			"side":   {Unavailable: "not running"},
		}},
	}
	b.PutNode(&structs.Node{ID: "n1", Name: "pi-1", Datacenter: "dc1", Status: "ready", Eligible: true,
		Resources: structs.Resources{CPU: 4000, MemoryMB: 1024}, Reserved: &structs.Reserved{CPU: 300, MemoryMB: 128}})
	b.PutNode(&structs.Node{ID: "n2", Name: "pi-2", Datacenter: "dc1", Status: "ready", Eligible: true})
	b.PutAlloc(newAlloc(alloc1, "e1", 0, "running"))
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	run := func(args ...string) (int, string, string) {
		var out, errOut syncBuffer
		code := Run(args, &out, &errOut, func(k string) string {
			if k == "CENTRAL_ADDR" {
				return srv.URL
			}
			return ""
		})
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("node", "status", "-stats", "n1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	assertLines(t, out,
		"Reserved       = cpu 300 MHz, memory 128 MB\n",
		"CPU             = 12.5%\n",
		"Memory          = 300.0 MiB / 1.0 GiB (29.3%)\n",
		"Disk (data dir) = 5.0 GiB used, 20.0 GiB available (20.0%)\n",
		"Temperature     = 48.3 °C\n",
		"Load (1 min)    = 0.42\n",
	)
	// A node the leader has not heard yet: said, not an error.
	code, out, _ = run("node", "status", "-stats", "n2")
	if code != 0 || !strings.Contains(out, "Reserved       = none\n") || !strings.Contains(out, "Host Resource Utilization: none yet (node n2: no heartbeat at this leader yet") {
		t.Errorf("no heartbeat yet: exit %d\n%s", code, out)
	}
	code, out, _ = run("node", "status", "-stats", "-json", "n1")
	if code != 0 || !strings.HasPrefix(out, `{"node_id":"n1","time":`) {
		t.Errorf("-stats -json: exit %d\n%s", code, out)
	}
	if code, _, errOut := run("node", "status", "-stats"); code != 2 || !strings.Contains(errOut, "-stats shows one node") {
		t.Errorf("-stats without a node: exit %d %s", code, errOut)
	}
	code, out, errOut = run("alloc", "status", "-stats", alloc1[:8])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	assertLines(t, out,
		"Task     CPU                             CPU Time  Memory\n",
		"guest    - (not measured by its driver)  -         16.0 MiB\n",
		"server   99.5%                           12.9 s    16.0 MiB\n",
		"side     -                               -         - (not running)\n",
		"(total)  99.5%                                     16.0 MiB\n",
	)
	code, out, _ = run("alloc", "status", "-stats", "-json", alloc1)
	if code != 0 || !strings.HasPrefix(out, `{"alloc_id":"`+alloc1+`"`) {
		t.Errorf("alloc -stats -json: exit %d\n%s", code, out)
	}
}
