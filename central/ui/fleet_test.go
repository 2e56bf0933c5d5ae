package ui_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

// statsBackend is apitest's backend with a node history, as the leader
// keeps it.
type statsBackend struct {
	*apitest.Backend
	hist map[string][]api.NodeStatsSample
}

func (b *statsBackend) NodeStats(id string) ([]api.NodeStatsSample, error) { return b.hist[id], nil }

func (b *statsBackend) LatestNodeStats(id string) (*api.NodeStatsSample, error) {
	if h := b.hist[id]; len(h) > 0 {
		return &h[len(h)-1], nil
	}
	return nil, nil
}

func (b *statsBackend) AllocStats(context.Context, api.AllocStatsRequest) (*api.AllocStats, error) {
	return nil, api.ErrStatsUnavailable
}

// history is an hour of one sample a minute, cpu(i) and temp(i) (nil: no
// sensor) for minute i.
func history(now time.Time, cpu func(i int) float64, temp func(i int) *float64) []api.NodeStatsSample {
	var out []api.NodeStatsSample
	for i := 0; i < 60; i++ {
		out = append(out, api.NodeStatsSample{Time: now.Add(time.Duration(i-59) * time.Minute).UnixMilli(), CPUPercent: cpu(i),
			MemoryUsedBytes: 1 << 30, MemoryTotalBytes: 4 << 30, DiskUsedBytes: 3 << 30, DiskAvailBytes: 1 << 30, TemperatureC: temp(i), Load1: 0.5})
	}
	return out
}

func deg(c float64) func(int) *float64 { return func(int) *float64 { return &c } }

func fleetServer(t *testing.T) (*statsBackend, *httptest.Server) {
	b := &statsBackend{Backend: apitest.New(), hist: map[string][]api.NodeStatsSample{}}
	for i, n := range []struct{ name, dc, status string }{
		{"pi-kitchen", "home", structs.NodeReady}, {"pi-attic", "home", structs.NodeReady},
		{"gw-shed", "home", structs.NodeDown}, {"edge-7", "shop", structs.NodeDisconnected}, {"edge-8", "shop", structs.NodeReady},
	} {
		b.PutNode(&structs.Node{ID: fmt.Sprintf("node-%04d", i+1), Name: n.name, Datacenter: n.dc, Status: n.status, Eligible: true, Version: []string{"1.0.0", "0.9.1"}[min(i, 1)]})
	}
	now := time.Now()
	b.hist["node-0001"] = history(now, func(i int) float64 { return float64(i) }, deg(51.5))               // busiest: 59%
	b.hist["node-0002"] = history(now, func(int) float64 { return 12 }, deg(71.2))                         // hottest
	b.hist["node-0005"] = history(now, func(int) float64 { return 30 }, func(int) *float64 { return nil }) // no sensor
	b.hist["node-0003"] = history(now.Add(-2*time.Hour), func(int) float64 { return 99 }, deg(90))         // silent for two hours
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	return b, srv
}

// The fleet overview counts nodes by status and datacenter and charts
// the busiest and hottest of the last hour; a node silent for longer is
// counted but not charted.
func TestFleetPage(t *testing.T) {
	_, srv := fleetServer(t)
	code, body := get(t, srv.URL+"/ui/fleet")
	if code != 200 {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	for _, want := range []string{
		"5 nodes",
		`data-status="ready"><strong>3</strong>`, `data-status="down"><strong>1</strong>`, `data-status="disconnected"><strong>1</strong>`,
		`aria-label="3 ready, 1 disconnected, 1 down"`,
		"3 of 5 nodes sent device metrics in the last hour; 1 of them report no temperature",
		`<svg class="spark cpu"`, `<svg class="spark temp"`, `<svg class="spark mem"`,
		"CPU over the last hour: now 59.0%, max 59.0%",
		`Agent versions: <span class="agent-version" data-version="0.9.1">0.9.1 × 4</span>, <span class="agent-version" data-version="1.0.0">1.0.0 × 1</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("lacks %q", want)
		}
	}
	dc := regexp.MustCompile(`(?s)<tr class="dc" data-dc="home">.*?<td class="total">(\d+)</td>.*?<td class="n-ready ok">(\d+)</td>.*?<td class="n-down bad">(\d+)</td>.*?<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>`).FindStringSubmatch(body)
	if dc == nil || dc[1] != "3" || dc[2] != "2" || dc[3] != "1" || dc[4] != "35.5% / 59.0%" || dc[5] != "25.0%" || dc[6] != "71.2 °C" {
		t.Errorf("datacenter home's row %q, want 3 nodes, 2 ready, 1 down, CPU 35.5%% / 59.0%%, memory 25%%, hottest 71.2 °C", dc)
	}
	busiest := body[strings.Index(body, "Busiest"):strings.Index(body, "Hottest <small>")]
	hottest := body[strings.Index(body, "Hottest <small>"):]
	order := func(s string) []string {
		var names []string
		for _, m := range regexp.MustCompile(`<a href="/ui/clients/node-\d+">([^<]+)</a>`).FindAllStringSubmatch(s, -1) {
			names = append(names, m[1])
		}
		return names
	}
	if got := order(busiest); strings.Join(got, ",") != "pi-kitchen,edge-8,pi-attic" {
		t.Errorf("busiest %v, want pi-kitchen, edge-8, pi-attic (gw-shed is silent for two hours)", got)
	}
	if got := order(hottest); strings.Join(got, ",") != "pi-attic,pi-kitchen" {
		t.Errorf("hottest %v, want pi-attic, pi-kitchen (edge-8 has no sensor)", got)
	}

	if _, body := get(t, srv.URL+"/ui/fleet?top=1"); len(regexp.MustCompile(`class="node-charts"`).FindAllString(body, -1)) != 2 {
		t.Errorf("?top=1 shows %d charted rows, want 2 (one busiest, one hottest)", len(regexp.MustCompile(`class="node-charts"`).FindAllString(body, -1)))
	}
	if code, body := get(t, srv.URL+"/ui/fleet?top=lots"); code != 400 || !strings.Contains(body, "want a number of nodes from 1 to 100") {
		t.Errorf("?top=lots: HTTP %d %s", code, body)
	}
}

// A client's page shows its latest device metrics and its charts; a node
// without any says so.
func TestClientPageHealth(t *testing.T) {
	_, srv := fleetServer(t)
	code, body := get(t, srv.URL+"/ui/clients/node-0001")
	for _, want := range []string{
		`data-stat="cpu"><th>CPU</th><td class="num">59.0%</td>`,
		"25.0% <span class=\"muted\">(1.0 GiB of 4.0 GiB)", "75.0% <span class=\"muted\">(3.0 GiB used, 1.0 GiB free)", "51.5 °C", "0.50",
		`<svg class="spark cpu"`, `<svg class="spark mem"`, `<svg class="spark disk"`, `<svg class="spark temp"`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("node-0001: HTTP %d, lacks %q", code, want)
		}
	}
	if _, body := get(t, srv.URL+"/ui/clients/node-0005"); !strings.Contains(body, "not reported by this board") || strings.Contains(body, `<svg class="spark temp"`) {
		t.Errorf("node-0005 (no sensor): temperature shown as\n%s", body)
	}
	if _, body := get(t, srv.URL+"/ui/clients/node-0004"); !strings.Contains(body, "No device metrics") {
		t.Errorf("node-0004 (no heartbeat): \n%s", body)
	}
}

// BenchmarkFleetPage10k renders the fleet overview of 10,000 nodes in 20
// datacenters, each with an hour of samples, and reports the page's size.
func BenchmarkFleetPage10k(b *testing.B) {
	sb := &statsBackend{Backend: apitest.New(), hist: map[string][]api.NodeStatsSample{}}
	now := time.Now()
	statuses := []string{structs.NodeReady, structs.NodeReady, structs.NodeReady, structs.NodeDisconnected, structs.NodeDown}
	for i := 0; i < 10_000; i++ {
		id := fmt.Sprintf("node-%05d", i)
		sb.PutNode(&structs.Node{ID: id, Name: fmt.Sprintf("edge-%05d", i), Datacenter: fmt.Sprintf("dc%02d", i%20), Status: statuses[i%len(statuses)], Eligible: true})
		sb.hist[id] = history(now, func(m int) float64 { return float64((i*7 + m*13) % 100) }, deg(40+float64(i%400)/10))
	}
	srv := httptest.NewServer(api.New(sb, nil))
	defer srv.Close()
	var size int
	b.ResetTimer()
	for b.Loop() {
		code, body := get(b, srv.URL+"/ui/fleet")
		if code != 200 {
			b.Fatalf("HTTP %d", code)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size)/1024, "KiB/page")
}
