package main

import (
	"strings"
	"testing"
	"time"
)

// TestResultsTableAndChart checks that a rerun replaces its row, and that
// the table and the chart show every run.
func TestResultsTableAndChart(t *testing.T) {
	var rs []Result
	rs = mergeResult(rs, Result{Label: "mosquitto", Agents: 1000, LeaderCPU: 3})
	rs = mergeResult(rs, Result{Label: "embedded", Agents: 1000, LeaderCPU: 4, BrokerEmbedded: true})
	rs = mergeResult(rs, Result{Label: "mosquitto", Agents: 1000, LeaderCPU: 5})
	if len(rs) != 2 || rs[0].LeaderCPU != 5 {
		t.Fatalf("merge: %+v", rs)
	}
	tab := table(rs)
	if !strings.Contains(tab, "| embedded | 1000 | 4.0 %") || !strings.Contains(tab, "| mosquitto | 1000 | 5.0 %") ||
		strings.Index(tab, "| embedded") > strings.Index(tab, "| mosquitto") {
		t.Errorf("table:\n%s", tab)
	}
	svg := chart(rs)
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<circle") != 2*len(panels)-countZero(rs) {
		t.Errorf("chart: %d points\n%s", strings.Count(svg, "<circle"), svg)
	}
}

// countZero is how many (run, panel) values are zero (not drawn).
func countZero(rs []Result) int {
	n := 0
	for _, r := range rs {
		for _, p := range panels {
			if p.value(r) <= 0 {
				n++
			}
		}
	}
	return n
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if p := pct(ds, 50); p != 3 {
		t.Errorf("p50 = %v ms, want 3", p)
	}
	if p := pct(ds, 99); p != 5 {
		t.Errorf("p99 = %v ms, want 5", p)
	}
	if p := pct(nil, 50); p != 0 {
		t.Errorf("p50 of nothing = %v", p)
	}
}
