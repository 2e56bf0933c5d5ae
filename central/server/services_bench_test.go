package server

import (
	"fmt"
	"testing"

	"github.com/tether-edge/tether/central/gateway"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// tenInstances is a realistic service: 10 instances with UUID alloc and
// node IDs, two tags each.
func tenInstances() []*structs.ServiceRegistration {
	var regs []*structs.ServiceRegistration
	for i := range 10 {
		alloc := fmt.Sprintf("8f3c2a1e-5b7d-4c9e-a1b2-%012d", i)
		regs = append(regs, &structs.ServiceRegistration{
			ID: structs.ServiceID(alloc, "server", "shop-api", "http"), ServiceName: "shop-api", Namespace: "default",
			JobID: "shop", AllocID: alloc, NodeID: fmt.Sprintf("2b9d4f60-1c3e-4a5b-9d8e-%012d", i), Datacenter: "dc1",
			Address: fmt.Sprintf("192.168.10.%d", 20+i), Port: 20000 + i, Tags: []string{"v1", "edge"}, Healthy: i%3 != 0,
		})
	}
	return regs
}

// TestServiceSetSize records the size of one retained service message.
func TestServiceSetSize(t *testing.T) {
	set := buildServiceSet("shop-api", tenInstances(), 12345)
	b, err := protocol.Encode(set)
	if err != nil {
		t.Fatal(err)
	}
	js, err := gateway.EncodeServiceJSON(set)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ServiceSet with 10 instances: %d bytes CBOR, %d bytes JSON mirror", len(b), len(js))
	if len(b) >= len(js) {
		t.Errorf("CBOR (%d bytes) is not smaller than JSON (%d bytes)", len(b), len(js))
	}
}

func BenchmarkServiceSetEncode10(b *testing.B) {
	regs := tenInstances()
	var n int
	for b.Loop() {
		buf, err := protocol.Encode(buildServiceSet("shop-api", regs, 12345))
		if err != nil {
			b.Fatal(err)
		}
		n = len(buf)
	}
	b.ReportMetric(float64(n), "bytes/msg")
}
