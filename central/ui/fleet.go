package ui

import (
	"cmp"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// The fleet overview is built for 10,000 nodes: it counts every node
// (by status, by datacenter) but draws charts only for the top N busiest
// (CPU now) and the top N hottest (temperature now), N = 10 unless
// ?top= says otherwise (at most maxTop). The full list is /ui/clients.

const (
	defaultTop = 10
	maxTop     = 100
	// statsWindow is how far back the charts go: what central keeps.
	statsWindow = time.Hour
)

// nodeStatuses are a node's statuses in the order the overview shows them.
var nodeStatuses = []string{structs.NodeReady, structs.NodeInitializing, structs.NodeDisconnected, structs.NodeDown}

// fleetPage is the overview.
type fleetPage struct {
	Total    int
	Statuses []statusCount
	Bar      template.HTML
	Draining int
	// Ineligible counts nodes not draining but marked ineligible.
	Ineligible  int
	DCs         []dcSummary
	Top         int
	Busiest     []nodeCharts
	Hottest     []nodeCharts
	WithStats   int // nodes that sent device metrics in the last hour
	WithoutTemp int // of those, nodes whose board reports no temperature
	// Versions counts nodes by agent version, most common first (at most
	// maxVersions; the rest are summed in OtherVersions).
	Versions      []statusCount
	OtherVersions int
}

// maxVersions bounds the fleet overview's agent version list.
const maxVersions = 10

// dcSummary is one datacenter's line.
type dcSummary struct {
	Name     string
	Total    int
	Statuses []statusCount
	Bar      template.HTML
	// Means and maxima over the datacenter's nodes' latest samples; NaN
	// when none reported.
	MeanCPU, MaxCPU, MeanMem, MaxTemp float64
}

// nodeCharts is a node's row with its latest values and its charts.
type nodeCharts struct {
	Node   *structs.Node
	Latest Sample
	CPU    template.HTML
	Memory template.HTML
	Temp   template.HTML
	Disk   template.HTML
}

// latestOf is a node with its latest sample.
type latestOf struct {
	node *structs.Node
	s    Sample
}

func (u *UI) fleet(r *http.Request, st Reader) (any, error) {
	top := defaultTop
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, badParam("top %q: want a number of nodes from 1 to %d", v, maxTop)
		}
		top = min(n, maxTop)
	}
	now := time.Now()
	p := fleetPage{Top: top}
	byDC := map[string]*dcSummary{}
	dcCounts := map[string]map[string]int{}
	counts := map[string]int{}
	versions := map[string]int{}
	sums := map[string]*[4]float64{} // cpu sum, cpu n, mem sum, mem n
	nodes := st.Nodes()
	latest := make([]latestOf, 0, len(nodes))
	for _, n := range nodes {
		p.Total++
		counts[n.Status]++
		v := n.Version
		if v == "" {
			v = "not reported"
		}
		versions[v]++
		switch {
		case n.Drain:
			p.Draining++
		case !n.Eligible:
			p.Ineligible++
		}
		dc := byDC[n.Datacenter]
		if dc == nil {
			dc = &dcSummary{Name: n.Datacenter, MeanCPU: math.NaN(), MaxCPU: math.NaN(), MeanMem: math.NaN(), MaxTemp: math.NaN()}
			byDC[n.Datacenter] = dc
			dcCounts[n.Datacenter] = map[string]int{}
			sums[n.Datacenter] = &[4]float64{}
		}
		dc.Total++
		dcCounts[n.Datacenter][n.Status]++
		s, ok := u.b.LatestStats(n.ID)
		if !ok || now.Sub(time.UnixMilli(s.Time)) > statsWindow {
			continue
		}
		p.WithStats++
		latest = append(latest, latestOf{n, s})
		sum := sums[n.Datacenter]
		if !math.IsNaN(s.CPUPercent) {
			sum[0] += s.CPUPercent
			sum[1]++
			dc.MaxCPU = nanMax(dc.MaxCPU, s.CPUPercent)
		}
		if m := s.MemoryPercent(); !math.IsNaN(m) {
			sum[2] += m
			sum[3]++
		}
		if math.IsNaN(s.TemperatureC) {
			p.WithoutTemp++
		} else {
			dc.MaxTemp = nanMax(dc.MaxTemp, s.TemperatureC)
		}
	}
	p.Statuses = orderedCounts(counts)
	for v, n := range versions {
		p.Versions = append(p.Versions, statusCount{v, n})
	}
	slices.SortFunc(p.Versions, func(a, b statusCount) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Status, b.Status)) })
	if len(p.Versions) > maxVersions {
		for _, v := range p.Versions[maxVersions:] {
			p.OtherVersions += v.N
		}
		p.Versions = p.Versions[:maxVersions]
	}
	p.Bar = statusBar(p.Statuses, statusClass)
	for name, dc := range byDC {
		dc.Statuses = orderedCounts(dcCounts[name])
		dc.Bar = statusBar(dc.Statuses, statusClass)
		if s := sums[name]; s[1] > 0 {
			dc.MeanCPU = s[0] / s[1]
		}
		if s := sums[name]; s[3] > 0 {
			dc.MeanMem = s[2] / s[3]
		}
		p.DCs = append(p.DCs, *dc)
	}
	slices.SortFunc(p.DCs, func(a, b dcSummary) int { return cmp.Compare(a.Name, b.Name) })

	rank := func(val func(Sample) float64) []latestOf {
		ok := make([]latestOf, 0, len(latest))
		for _, l := range latest {
			if !math.IsNaN(val(l.s)) {
				ok = append(ok, l)
			}
		}
		slices.SortFunc(ok, func(a, b latestOf) int {
			return cmp.Or(cmp.Compare(val(b.s), val(a.s)), cmp.Compare(a.node.Name, b.node.Name))
		})
		return ok[:min(top, len(ok))]
	}
	for _, l := range rank(func(s Sample) float64 { return s.CPUPercent }) {
		p.Busiest = append(p.Busiest, u.charts(l.node, l.s, now))
	}
	for _, l := range rank(func(s Sample) float64 { return s.TemperatureC }) {
		p.Hottest = append(p.Hottest, u.charts(l.node, l.s, now))
	}
	return p, nil
}

// orderedCounts lists counts in nodeStatuses' order, then any other
// status by name.
func orderedCounts(m map[string]int) []statusCount {
	var out []statusCount
	for _, s := range nodeStatuses {
		out = append(out, statusCount{s, m[s]})
	}
	var other []string
	for s := range m {
		if !slices.Contains(nodeStatuses, s) {
			other = append(other, s)
		}
	}
	slices.Sort(other)
	for _, s := range other {
		out = append(out, statusCount{s, m[s]})
	}
	return out
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(a) || b > a {
		return b
	}
	return a
}

// charts draws a node's last hour.
func (u *UI) charts(n *structs.Node, latest Sample, now time.Time) nodeCharts {
	samples := u.b.NodeStats(n.ID)
	to := now.UnixMilli()
	from := to - statsWindow.Milliseconds()
	series := func(f func(Sample) float64) []point {
		ps := make([]point, len(samples))
		for i, s := range samples {
			ps[i] = point{s.Time, f(s)}
		}
		return ps
	}
	pct := func(class, label string) sparkSpec {
		return sparkSpec{Class: class, Label: label, Unit: "%", Lo: 0, Hi: 100, From: from, To: to}
	}
	return nodeCharts{
		Node:   n,
		Latest: latest,
		CPU:    sparkline(series(func(s Sample) float64 { return s.CPUPercent }), pct("cpu", "CPU")),
		Memory: sparkline(series(Sample.MemoryPercent), pct("mem", "Memory")),
		Disk:   sparkline(series(Sample.DiskPercent), pct("disk", "Disk")),
		// 30-80 °C covers an idle to a throttling SoC; beyond widens it.
		Temp: sparkline(series(func(s Sample) float64 { return s.TemperatureC }),
			sparkSpec{Class: "temp", Label: "Temperature", Unit: "°C", Lo: 30, Hi: 80, From: from, To: to}),
	}
}

// pct formats a percentage, "—" for NaN.
func pct(v float64) string { return value(v, "%") }

// celsius formats a temperature, "—" for NaN.
func celsius(v float64) string { return value(v, " °C") }

// bytesIEC formats a byte count (1.5 GiB).
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}
