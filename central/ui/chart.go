package ui

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG written here, on the server: no script, no
// library, nothing fetched. Colours come from the stylesheet (classes),
// since the UI's content security policy allows no inline style.

// Sample is one heartbeat's device metrics, as GET /v1/node/<id>/stats
// reports them. Missing values are NaN (a board without a temperature
// sensor, an agent too old to send disk usage).
type Sample struct {
	Time             int64 // unix ms
	CPUPercent       float64
	MemoryUsedBytes  uint64
	MemoryTotalBytes uint64
	DiskUsedBytes    uint64
	DiskAvailBytes   uint64
	TemperatureC     float64 // NaN: not reported
	Load1            float64
}

// MemoryPercent is the memory in use, NaN when the total is unknown.
func (s Sample) MemoryPercent() float64 {
	if s.MemoryTotalBytes == 0 {
		return math.NaN()
	}
	return 100 * float64(s.MemoryUsedBytes) / float64(s.MemoryTotalBytes)
}

// DiskPercent is the data dir's filesystem in use, NaN when unknown.
func (s Sample) DiskPercent() float64 {
	if t := s.DiskUsedBytes + s.DiskAvailBytes; t > 0 {
		return 100 * float64(s.DiskUsedBytes) / float64(t)
	}
	return math.NaN()
}

// point is one value of a series at a time (unix ms); NaN is a gap.
type point struct {
	T int64
	V float64
}

// sparkSpec is how one sparkline is drawn.
type sparkSpec struct {
	Class    string  // CSS class of the line: cpu, mem, temp
	Label    string  // "CPU", for the tooltip
	Unit     string  // "%", "°C"
	Lo, Hi   float64 // the value range shown; values outside widen it
	From, To int64   // the time range shown (unix ms)
}

// Sparkline geometry, in SVG user units (= CSS pixels).
const (
	sparkW   = 120
	sparkH   = 28
	sparkPad = 2 // room for the stroke at the edges
)

// sparkline draws points (oldest first) between spec.From and spec.To as
// a small SVG line chart: one column per pixel, each the highest value
// that fell in it (a one-minute spike must not be averaged away), a gap
// where no sample came for longer than two columns or a value was
// missing, and a dot on the latest value. Its tooltip says the latest
// value and the maximum. With no value to draw it says so in text.
func sparkline(points []point, spec sparkSpec) template.HTML {
	cols := columns(points, spec.From, spec.To, sparkW)
	lo, hi := spec.Lo, spec.Hi
	last, peak, seen := math.NaN(), math.NaN(), false
	for _, v := range cols {
		if math.IsNaN(v) {
			continue
		}
		seen = true
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		if math.IsNaN(peak) || v > peak {
			peak = v
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if p := points[i]; p.T >= spec.From && p.T <= spec.To && !math.IsNaN(p.V) {
			last = p.V
			break
		}
	}
	if !seen {
		return template.HTML(`<span class="spark-none muted">no ` + template.HTMLEscapeString(strings.ToLower(spec.Label)) + ` data</span>`)
	}
	if hi <= lo {
		hi = lo + 1
	}
	y := func(v float64) float64 {
		return sparkPad + (sparkH-2*sparkPad)*(1-(v-lo)/(hi-lo))
	}
	var d strings.Builder
	prev, lastX, lastY := false, 0.0, 0.0
	for i, v := range cols {
		if math.IsNaN(v) {
			prev = false
			continue
		}
		x := float64(i) + 0.5
		cmd := "L"
		if !prev {
			cmd = "M"
			if i+1 < len(cols) && math.IsNaN(cols[i+1]) {
				// A lone column: a short flat stroke, so that it shows.
				fmt.Fprintf(&d, "M%s %sh1", num(x-0.5), num(y(v)))
				prev, lastX, lastY = false, x, y(v)
				continue
			}
		}
		fmt.Fprintf(&d, "%s%s %s", cmd, num(x), num(y(v)))
		prev, lastX, lastY = true, x, y(v)
	}
	title := fmt.Sprintf("%s over the last %s: now %s, max %s", spec.Label, span(spec.To-spec.From), value(last, spec.Unit), value(peak, spec.Unit))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark %s" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		template.HTMLEscapeString(spec.Class), sparkW, sparkH, sparkW, sparkH, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<path class="line" fill="none" d="%s"/>`, d.String())
	if !math.IsNaN(last) {
		fmt.Fprintf(&b, `<circle class="now" r="1.8" cx="%s" cy="%s"/>`, num(lastX), num(lastY))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// columns buckets points into n columns spanning [from, to] and keeps
// each column's highest value; NaN marks a column with no value. A column
// between two values less than three columns apart is filled with the
// later value so that the line stays unbroken at the heartbeat interval;
// a longer silence stays a gap.
func columns(points []point, from, to int64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	if to <= from || n <= 0 {
		return out
	}
	width := float64(to-from) / float64(n)
	lastCol := -1
	for _, p := range points {
		if p.T < from || p.T > to || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			continue
		}
		c := min(int(float64(p.T-from)/width), n-1)
		if math.IsNaN(out[c]) || p.V > out[c] {
			out[c] = p.V
		}
		if lastCol >= 0 && c-lastCol > 1 && c-lastCol <= 3 {
			for k := lastCol + 1; k < c; k++ {
				out[k] = p.V
			}
		}
		lastCol = c
	}
	return out
}

// num writes a coordinate with at most one decimal.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func value(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + unit
}

func span(ms int64) string {
	switch {
	case ms%3_600_000 == 0 && ms >= 3_600_000:
		if ms == 3_600_000 {
			return "hour"
		}
		return strconv.FormatInt(ms/3_600_000, 10) + " hours"
	case ms%60_000 == 0:
		return strconv.FormatInt(ms/60_000, 10) + " min"
	}
	return strconv.FormatInt(ms/1000, 10) + " s"
}

// statusBar draws counts by status as one stacked horizontal bar, each
// part as wide as its share and coloured by its class (classOf), in order.
func statusBar(parts []statusCount, classOf func(string) string) template.HTML {
	total := 0
	for _, p := range parts {
		total += p.N
	}
	const w, h = 240, 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="statusbar" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h, template.HTMLEscapeString(countsText(parts)))
	if total == 0 {
		fmt.Fprintf(&b, `<rect class="empty" width="%d" height="%d"/>`, w, h)
	}
	x := 0.0
	for _, p := range parts {
		if p.N == 0 {
			continue
		}
		pw := float64(w) * float64(p.N) / float64(total)
		fmt.Fprintf(&b, `<rect class="%s" x="%s" width="%s" height="%d"><title>%d %s</title></rect>`,
			template.HTMLEscapeString(classOf(p.Status)), num(x), num(pw), h, p.N, template.HTMLEscapeString(p.Status))
		x += pw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// statusCount is how many nodes have one status.
type statusCount struct {
	Status string
	N      int
}

func countsText(parts []statusCount) string {
	var s []string
	for _, p := range parts {
		if p.N > 0 {
			s = append(s, fmt.Sprintf("%d %s", p.N, p.Status))
		}
	}
	if len(s) == 0 {
		return "no nodes"
	}
	return strings.Join(s, ", ")
}
