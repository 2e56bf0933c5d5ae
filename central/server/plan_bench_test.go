package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// BenchmarkPlanEndpoint10Groups5000Nodes is issue #16's goal end to end:
// POST /v1/job/<id>/plan of a 10-group job file (5 allocations a group, a
// constraint, a port and a service each) to a real single-server central
// with 5,000 nodes: HTTP, the parse, the submit checks, the dry run and
// the JSON answer. Goal: ≤ 50 ms.
func BenchmarkPlanEndpoint10Groups5000Nodes(b *testing.B) {
	s := testServer(b, time.Hour)
	cmd := &state.Command{}
	now := time.Now().UnixNano()
	for i := range 5000 {
		cmd.Ops = append(cmd.Ops, state.Op{UpsertNode: &structs.Node{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012d", i*2654435761, i), Name: fmt.Sprintf("pi-%d", i), Datacenter: fmt.Sprintf("dc%d", i%4+1),
			Status: structs.NodeReady, Eligible: true, Drivers: []string{"exec"}, StatusUpdatedAt: now,
			Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux", "unique.network.ip-address": fmt.Sprintf("10.%d.%d.%d", i/62500, i/250%250, i%250+1)},
			Resources:  structs.Resources{CPU: 4000, MemoryMB: 4096},
		}})
	}
	if _, err := s.apply(cmd); err != nil {
		b.Fatal(err)
	}
	var src strings.Builder
	src.WriteString("job \"shop\" {\n  datacenters = [\"dc*\"]\n  constraint {\n    attribute = \"${attr.kernel.name}\"\n    value     = \"linux\"\n  }\n")
	for g := range 10 {
		fmt.Fprintf(&src, `  group "g%d" {
    count = 5
    network {
      port "http" {
        to = 8080
      }
    }
    service {
      name     = "shop-g%d"
      port     = "http"
      address  = "${attr.unique.network.ip-address}"
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/shop"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
`, g, g)
	}
	src.WriteString("}\n")
	body, _ := json.Marshal(map[string]any{"hcl": src.String(), "filename": "shop.hcl"})
	url := s.HTTPURL() + "/v1/job/shop/plan"
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res jobplan.Result
		if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &res) != nil || len(res.Allocations) != 50 {
			b.Fatalf("plan: HTTP %d, %d allocations, want 50: %.500s", resp.StatusCode, len(res.Allocations), out)
		}
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano()) - (ru0.Utime.Nano() + ru0.Stime.Nano())
	b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
}
