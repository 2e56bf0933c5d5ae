package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode
}

// The leader keeps each node's heartbeats' device metrics: GET
// /v1/node/<id>/stats answers the contract the web UI draws from (these
// keys exactly, temperature null without a sensor), and /v1/client/stats
// the latest heartbeat.
func TestNodeStatsFromHeartbeats(t *testing.T) {
	s := testServerWith(t, func(c *Config) { c.HeartbeatTTL, c.HeartbeatGrace = time.Minute, -1 })
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 10*time.Second, func() error {
		if s.store.NodeByID("n1") == nil {
			return fmt.Errorf("node not registered")
		}
		return nil
	})
	a.publish(a.topics.Heartbeat(a.id), 0, &protocol.Heartbeat{V: protocol.Version, Seq: 1, Time: time.Now().UnixMilli(),
		CPU: 125, MemUsedMiB: 300, Load1: 42, DiskUsed: 5 << 30, DiskAvail: 1 << 30})
	var hist struct {
		NodeID  string           `json:"node_id"`
		Samples []map[string]any `json:"samples"`
	}
	eventually(t, 10*time.Second, func() error {
		if code := getJSON(t, s.HTTPURL()+"/v1/node/n/stats", &hist); code != http.StatusOK {
			return fmt.Errorf("GET /v1/node/n/stats: %d", code)
		}
		if len(hist.Samples) == 0 {
			return fmt.Errorf("no sample yet")
		}
		return nil
	})
	if hist.NodeID != "n1" || len(hist.Samples) != 1 {
		t.Fatalf("history: %+v", hist)
	}
	x := hist.Samples[0]
	var keys []string
	for k := range x {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"cpu_percent", "disk_avail_bytes", "disk_used_bytes", "load1", "memory_total_bytes", "memory_used_bytes", "temperature_c", "time"}
	if !slices.Equal(keys, want) {
		t.Fatalf("sample keys %v, want %v (the UI's contract)", keys, want)
	}
	mem := float64(s.store.NodeByID("n1").Resources.MemoryMB << 20)
	if x["cpu_percent"] != 12.5 || x["memory_used_bytes"] != float64(300<<20) || x["memory_total_bytes"] != mem || mem == 0 ||
		x["disk_used_bytes"] != float64(5<<30) || x["disk_avail_bytes"] != float64(1<<30) || x["load1"] != 0.42 || x["temperature_c"] != nil {
		t.Fatalf("sample %v", x)
	}
	if ms := x["time"].(float64); ms < float64(time.Now().Add(-time.Minute).UnixMilli()) || ms > float64(time.Now().UnixMilli()) {
		t.Fatalf("sample time %v is not the heartbeat's arrival", ms)
	}

	// The same minute: the newest heartbeat replaces the sample.
	a.publish(a.topics.Heartbeat(a.id), 0, &protocol.Heartbeat{V: protocol.Version, Seq: 2, Time: time.Now().UnixMilli(), CPU: 500, MemUsedMiB: 310, SoCTemp: 483,
		DiskUsedMiB: 6 << 10, DiskAvailMiB: 1 << 10})
	var latest map[string]any
	eventually(t, 10*time.Second, func() error {
		if code := getJSON(t, s.HTTPURL()+"/v1/client/stats?node_id=n1", &latest); code != http.StatusOK {
			return fmt.Errorf("GET /v1/client/stats: %d", code)
		}
		if latest["cpu_percent"] != 50.0 {
			return fmt.Errorf("latest %v", latest)
		}
		return nil
	})
	if latest["node_id"] != "n1" || latest["temperature_c"] != 48.3 || latest["memory_used_bytes"] != float64(310<<20) || latest["disk_used_bytes"] != float64(6<<30) {
		t.Fatalf("client stats %v", latest)
	}
	getJSON(t, s.HTTPURL()+"/v1/node/n1/stats", &hist)
	if n := len(hist.Samples); n != 1 && n != 2 { // 2 when the minute turned between the heartbeats
		t.Fatalf("%d samples after two heartbeats", n)
	}
	if last := hist.Samples[len(hist.Samples)-1]; last["temperature_c"] != 48.3 {
		t.Fatalf("last sample %v", last)
	}
	if code := getJSON(t, s.HTTPURL()+"/v1/node/nope/stats", &hist); code != http.StatusNotFound {
		t.Fatalf("unknown node: %d", code)
	}
	if code := getJSON(t, s.HTTPURL()+"/v1/client/stats", &latest); code != http.StatusBadRequest {
		t.Fatalf("no node_id: %d", code)
	}
}

// A node whose hello says it understands Desired.Metrics gets it set, and
// its hello's reserved block is kept on the node; one without the
// attribute (an older agent would refuse the field) does not get it.
func TestDesiredMetricsAndReserved(t *testing.T) {
	s := testServerWith(t, func(c *Config) {})
	newer, older := newWireAgent(t, s, "n1"), newWireAgent(t, s, "n2")
	newer.publish(newer.topics.Hello(newer.id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: newer.id, Name: "node-n1", Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{protocol.AttrMetrics: "1"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
		Reserved:   &protocol.Reserved{CPU: 300, MemoryMB: 128},
	})
	older.hello()
	eventually(t, 10*time.Second, func() error {
		for _, a := range []*wireAgent{newer, older} {
			if a.currentDesired() == nil {
				return fmt.Errorf("no desired state for %s yet", a.id)
			}
		}
		return nil
	})
	if !newer.currentDesired().Metrics || older.currentDesired().Metrics {
		t.Fatalf("Desired.Metrics: %v for the agent that understands it, %v for the one that does not", newer.currentDesired().Metrics, older.currentDesired().Metrics)
	}
	n := s.store.NodeByID("n1")
	if n.Reserved == nil || *n.Reserved != (structs.Reserved{CPU: 300, MemoryMB: 128}) || n.Offered() != (structs.Resources{CPU: 1700, MemoryMB: 896}) {
		t.Fatalf("node reserved %+v, offered %+v", n.Reserved, n.Offered())
	}
	if s.store.NodeByID("n2").Reserved != nil {
		t.Fatal("a node without a reserved block has one")
	}
}

// GET /v1/client/allocation/<id>/stats asks the allocation's agent over
// MQTT: an agent that never answers (older than the request) is a 503 that
// says so; one that answers gets its figures summed, a wasm-like task's
// CPU null.
func TestAllocStatsAskTheAgent(t *testing.T) {
	s := testServerWith(t, func(c *Config) { c.HeartbeatTTL, c.HeartbeatGrace = time.Minute, -1 })
	a, da := placeOne(t, s)
	a.report(1, da.ID, protocol.AllocRunning)
	eventually(t, 10*time.Second, func() error {
		if al := s.store.AllocByID(da.ID); al == nil || al.ClientStatus != protocol.AllocRunning {
			return fmt.Errorf("allocation not running yet")
		}
		return nil
	})
	get := func() (int, string) {
		resp, err := http.Get(s.HTTPURL() + "/v1/client/allocation/" + da.ID[:8] + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "did not answer within 5s (an agent older than allocation stats never answers: upgrade it)") {
		t.Fatalf("silent agent: %d %s", code, body)
	}
	// The agent answers now.
	a.c.Subscribe(a.topics.Stats(a.id), 1, func(_ paho.Client, m paho.Message) {
		var req protocol.StatsRequest
		if err := protocol.Decode(m.Payload(), &req); err != nil || req.AllocID != da.ID {
			t.Errorf("stats request %+v: %v", req, err)
			return
		}
		a.publish(a.topics.StatsReply(a.id, req.ID), 1, &protocol.StatsReply{V: protocol.Version, ID: req.ID, Time: time.Now().UnixMilli(), Tasks: []protocol.TaskUsage{
			{Name: "web", CPU: 1250, CPUTimeMs: 4200, MemBytes: 64 << 20},
			{Name: "guest", MemBytes: 2 << 20, NoCPU: true},
		}})
	}).Wait()
	code, body := get()
	if code != http.StatusOK {
		t.Fatalf("answering agent: %d %s", code, body)
	}
	var st api.AllocStats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	web, guest := st.Tasks["web"], st.Tasks["guest"]
	if st.AllocID != da.ID || st.CPUPercent != 125 || st.MemoryUsedBytes != 66<<20 ||
		web.CPUPercent == nil || *web.CPUPercent != 125 || *web.CPUTotalSeconds != 4.2 || guest.CPUPercent != nil || *guest.MemoryUsedBytes != 2<<20 {
		t.Fatalf("stats %s", body)
	}
}
