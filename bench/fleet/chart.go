package main

import (
	"fmt"
	"slices"
	"strings"
)

// panel is one chart of the figure: a value per run, one line per broker
// kind, and the goal as a dashed line.
type panel struct {
	title string
	unit  string
	goal  float64
	value func(r Result) float64
}

var panels = []panel{
	{"leader CPU at steady state", "% of one core", 50, func(r Result) float64 { return r.LeaderCPU }},
	{"leader RSS at steady state", "MiB", 1024, func(r Result) float64 { return r.LeaderRSSMiB }},
	{"system job: submit → all running", "s", 30, func(r Result) float64 { return r.SystemJobS }},
	{"job update over every node", "s", 30, func(r Result) float64 { return r.UpdateS }},
	{"reconnect storm (broker restart) → reconciled", "s", 30, func(r Result) float64 { return r.StormS }},
	{"leader failover → writes accepted", "s", 3, func(r Result) float64 { return r.FailoverS }},
}

var colours = map[string]string{"embedded": "#1f77b4", "mosquitto": "#d62728", "nats": "#2ca02c"}

// chart draws every panel against N, from the results.
func chart(rs []Result) string {
	const w, h, cols = 330, 220, 3
	rows := (len(panels) + cols - 1) / cols
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w*cols, h*rows+30)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13">Tether central, 3 servers, simulated agents at a 15 s heartbeat (bench/fleet; dashed: goal)</text>`+"\n")
	labels := []string{}
	ns := []int{}
	for _, r := range rs {
		if !slices.Contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
		if !slices.Contains(ns, r.Agents) {
			ns = append(ns, r.Agents)
		}
	}
	slices.Sort(labels)
	slices.Sort(ns)
	for i, p := range panels {
		x0, y0 := (i%cols)*w, 30+(i/cols)*h
		drawPanel(&b, p, rs, labels, ns, x0, y0, w, h)
	}
	for i, l := range labels {
		c := colours[l]
		if c == "" {
			c = "#555"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="24" width="10" height="3" fill="%s"/><text x="%d" y="29">%s</text>`+"\n", w*cols-200+i*100, c, w*cols-186+i*100, l)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func drawPanel(b *strings.Builder, p panel, rs []Result, labels []string, ns []int, x0, y0, w, h int) {
	const ml, mr, mt, mb = 50, 15, 25, 35
	pw, ph := w-ml-mr, h-mt-mb
	top := p.goal * 1.2
	for _, r := range rs {
		top = max(top, p.value(r)*1.1)
	}
	if len(ns) == 0 {
		return
	}
	xmax := float64(ns[len(ns)-1])
	px := func(n int) float64 { return float64(x0+ml) + float64(n)/xmax*float64(pw) }
	py := func(v float64) float64 { return float64(y0+mt+ph) - v/top*float64(ph) }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0+ml, y0+mt-10, p.title)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>`+"\n",
		x0+ml, y0+mt, x0+ml, y0+mt+ph, x0+ml, y0+mt+ph, x0+ml+pw, y0+mt+ph)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0+ml-4, py(v)+4, short(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>`+"\n", x0+12, y0+mt+ph/2, x0+12, y0+mt+ph/2, p.unit)
	for _, n := range ns {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", px(n), y0+mt+ph+14, n)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">simulated agents</text>`+"\n", x0+ml+pw/2, y0+mt+ph+28)
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2a2" stroke-dasharray="4 3"/>`+"\n", x0+ml, py(p.goal), x0+ml+pw, py(p.goal))
	for _, l := range labels {
		c := colours[l]
		if c == "" {
			c = "#555"
		}
		var pts []string
		for _, n := range ns {
			for _, r := range rs {
				if r.Label == l && r.Agents == n && p.value(r) > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(n), py(p.value(r))))
					fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(n), py(p.value(r)), c)
				}
			}
		}
		if len(pts) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(pts, " "), c)
		}
	}
}

func short(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// table is the results as a Markdown table, as docs/scale.md quotes it.
func table(rs []Result) string {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Result) int {
		if a.Label != b.Label {
			return strings.Compare(a.Label, b.Label)
		}
		return a.Agents - b.Agents
	})
	var b strings.Builder
	b.WriteString("| broker | simulated agents | leader CPU | leader RSS | follower CPU | broker CPU / RSS | report → state p50 / p99 | nodes falsely down | system job → all running (leader CPU) | update → all running (leader CPU) | reconnect storm (leader CPU) | failover: write accepted / nodes down | load | date |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		broker := fmt.Sprintf("%.1f %% / %.0f MiB", r.BrokerCPU, r.BrokerRSSMiB)
		if r.BrokerEmbedded {
			broker = fmt.Sprintf("%.1f %% / %.0f MiB (the follower that embeds it)", r.BrokerCPU, r.BrokerRSSMiB)
		}
		storm := fmt.Sprintf("%.1f s (%.1f s)", r.StormS, r.StormCPU)
		if r.NodeLossMoved > 0 {
			broker = fmt.Sprintf("%.1f %% / %.0f MiB (one of 3 nodes)", r.BrokerCPU, r.BrokerRSSMiB)
			storm = fmt.Sprintf("one of 3 nodes killed: %d agents moved in %.1f s, %d allocations restarted, %d nodes down; update after it %.1f s",
				r.NodeLossMoved, r.NodeLossS, r.NodeLossRestarts, r.NodeLossDowns, r.NodeLossUpdateS)
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f %% | %.0f MiB | %.1f %% | %s | %.0f / %.0f ms | %d | %.1f s (%.1f s) | %.1f s (%.1f s) | %s | %.2f s / %d | %.1f–%.1f | %s |\n",
			r.Label, r.Agents, r.LeaderCPU, r.LeaderRSSMiB, r.FollowerCPU, broker, r.LatP50Ms, r.LatP99Ms, r.FalseDowns,
			r.SystemJobS, r.SystemJobCPU, r.UpdateS, r.UpdateCPU, storm, r.FailoverS, r.FailoverDowns, r.LoadStart, r.LoadEnd, r.Date)
	}
	return b.String()
}
