package ui

import (
	"encoding/xml"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// pathPoints parses a sparkline's path into its points, and counts its
// segments (M commands).
func pathPoints(t *testing.T, svg string) (pts [][2]float64, segments int) {
	t.Helper()
	m := regexp.MustCompile(` d="([^"]*)"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no path in %s", svg)
	}
	for _, c := range regexp.MustCompile(`([MLh])([-0-9. ]+)`).FindAllStringSubmatch(m[1], -1) {
		f := strings.Fields(c[2])
		switch c[1] {
		case "M", "L":
			if c[1] == "M" {
				segments++
			}
			x, _ := strconv.ParseFloat(f[0], 64)
			y, _ := strconv.ParseFloat(f[1], 64)
			pts = append(pts, [2]float64{x, y})
		}
	}
	return pts, segments
}

const hour = int64(3_600_000)

func TestSparkline(t *testing.T) {
	from := int64(1_700_000_000_000)
	spec := sparkSpec{Class: "cpu", Label: "CPU", Unit: "%", Lo: 0, Hi: 100, From: from, To: from + hour}
	every := func(step int64, f func(i int) float64) []point {
		var ps []point
		for i := 0; from+int64(i)*step <= from+hour; i++ {
			ps = append(ps, point{from + int64(i)*step, f(i)})
		}
		return ps
	}

	t.Run("valid SVG, one point per column, scaled", func(t *testing.T) {
		svg := string(sparkline(every(10_000, func(i int) float64 { return 50 }), spec))
		if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		pts, segs := pathPoints(t, svg)
		if len(pts) != sparkW || segs != 1 {
			t.Fatalf("%d points in %d segments, want %d in 1:\n%s", len(pts), segs, sparkW, svg)
		}
		for _, p := range pts {
			if math.Abs(p[1]-sparkH/2) > 0.1 {
				t.Fatalf("50%% of 0-100 drawn at y=%v, want %v", p[1], sparkH/2)
			}
		}
		for _, want := range []string{`class="spark cpu"`, "now 50.0%, max 50.0%", "last hour", `<circle class="now"`} {
			if !strings.Contains(svg, want) {
				t.Errorf("lacks %q:\n%s", want, svg)
			}
		}
	})

	t.Run("a spike survives bucketing", func(t *testing.T) {
		svg := string(sparkline(every(1_000, func(i int) float64 {
			if i == 1800 {
				return 97
			}
			return 5
		}), spec))
		pts, _ := pathPoints(t, svg)
		top := float64(sparkH)
		for _, p := range pts {
			top = math.Min(top, p[1])
		}
		if want := sparkPad + (sparkH-2*sparkPad)*0.03; math.Abs(top-want) > 0.1 {
			t.Errorf("highest point at y=%v, want the 97%% spike at %v", top, want)
		}
		if !strings.Contains(svg, "max 97.0%") || !strings.Contains(svg, "now 5.0%") {
			t.Errorf("tooltip: %s", svg)
		}
	})

	t.Run("silence and missing values are gaps", func(t *testing.T) {
		ps := every(10_000, func(i int) float64 {
			switch {
			case i >= 100 && i < 200: // 16 minutes without a value
				return math.NaN()
			}
			return 20
		})
		// and 10 minutes without any sample
		var cut []point
		for _, p := range ps {
			if p.T < from+40*60_000 || p.T > from+50*60_000 {
				cut = append(cut, p)
			}
		}
		_, segs := pathPoints(t, string(sparkline(cut, spec)))
		if segs != 3 {
			t.Errorf("%d segments, want 3 (two gaps)", segs)
		}
	})

	t.Run("values beyond the range widen it", func(t *testing.T) {
		temp := sparkSpec{Class: "temp", Label: "Temperature", Unit: "°C", Lo: 30, Hi: 80, From: from, To: from + hour}
		pts, _ := pathPoints(t, string(sparkline(every(10_000, func(i int) float64 { return 20 + float64(i%2)*75 }), temp)))
		for _, p := range pts {
			if p[1] < sparkPad-0.01 || p[1] > sparkH-sparkPad+0.01 {
				t.Fatalf("point at y=%v outside the chart", p[1])
			}
		}
	})

	t.Run("nothing to draw", func(t *testing.T) {
		for name, ps := range map[string][]point{
			"empty":        nil,
			"all missing":  every(60_000, func(int) float64 { return math.NaN() }),
			"out of range": {{from - 1, 5}, {from + hour + 1, 5}},
		} {
			got := string(sparkline(ps, spec))
			if strings.Contains(got, "<svg") || !strings.Contains(got, "no cpu data") {
				t.Errorf("%s: %s", name, got)
			}
		}
	})

	t.Run("one sample", func(t *testing.T) {
		svg := string(sparkline([]point{{from + hour/2, 42}}, spec))
		if !strings.Contains(svg, "h1") || !strings.Contains(svg, "now 42.0%") {
			t.Errorf("a lone sample is not drawn: %s", svg)
		}
	})

	t.Run("a constant series does not divide by zero", func(t *testing.T) {
		flat := spec
		flat.Lo, flat.Hi = 5, 5
		svg := string(sparkline(every(60_000, func(int) float64 { return 5 }), flat))
		if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Errorf("%s", svg)
		}
	})
}

func TestStatusBar(t *testing.T) {
	svg := string(statusBar([]statusCount{{"ready", 3}, {"disconnected", 0}, {"down", 1}}, statusClass))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	rects := regexp.MustCompile(`<rect class="(\w+)" x="([0-9.]+)" width="([0-9.]+)"`).FindAllStringSubmatch(svg, -1)
	if len(rects) != 2 || rects[0][1] != "ok" || rects[0][3] != "180" || rects[1][1] != "bad" || rects[1][2] != "180" || rects[1][3] != "60" {
		t.Errorf("bars %v, want ok 0-180 and bad 180-240:\n%s", rects, svg)
	}
	if !strings.Contains(svg, `aria-label="3 ready, 1 down"`) {
		t.Errorf("label: %s", svg)
	}
	if got := string(statusBar(nil, statusClass)); !strings.Contains(got, `class="empty"`) || !strings.Contains(got, "no nodes") {
		t.Errorf("empty: %s", got)
	}
}
