package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// timeFormat is how absolute times are printed (Nomad's).
const timeFormat = "2006-01-02T15:04:05Z07:00"

func (e *env) short(id string) string {
	if e.verbose || len(id) <= 8 {
		return id
	}
	return id[:8]
}

func shortID(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:8]
}

func formatUnixNano(ns int64) string {
	if ns == 0 {
		return "<none>"
	}
	return time.Unix(0, ns).Format(timeFormat)
}

// ago prints a unix-ns time relative to now: "12s ago", "3m4s ago".
func (e *env) ago(ns int64) string {
	if ns == 0 {
		return "<none>"
	}
	d := e.now().Sub(time.Unix(0, ns)).Round(time.Second)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh ago", int(d.Hours())/24, int(d.Hours())%24)
}

// kv prints "Key = value" lines with the keys padded to one width.
func kv(w io.Writer, pairs [][2]string) {
	width := 0
	for _, p := range pairs {
		width = max(width, len(p[0]))
	}
	for _, p := range pairs {
		v := p[1]
		if v == "" {
			v = "<none>"
		}
		fmt.Fprintf(w, "%-*s = %s\n", width, p[0], v)
	}
}

// table prints rows in columns two spaces apart; the first row is the
// header.
func table(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// placementFailures prints why groups could not be placed, in Nomad's
// words, each line starting with indent.
func placementFailures(w io.Writer, indent string, ev *structs.Evaluation) {
	for _, tg := range sortedKeys(ev.FailedTGAllocs) {
		m := ev.FailedTGAllocs[tg]
		if m == nil {
			m = &structs.AllocMetric{}
		}
		n := ev.QueuedAllocations[tg]
		if n == 0 {
			n = m.CoalescedFailures + 1
		}
		noun := "allocation"
		if n != 1 {
			noun = "allocations"
		}
		fmt.Fprintf(w, "%sTask Group %q (failed to place %d %s):\n", indent, tg, n, noun)
		fmt.Fprint(w, formatMetric(indent+"  ", m))
	}
}

func formatMetric(indent string, m *structs.AllocMetric) string {
	var b strings.Builder
	for _, r := range m.Reasons() {
		fmt.Fprintf(&b, "%s* %s\n", indent, r)
	}
	return b.String()
}

// sortAllocs orders allocations newest first, then by name.
func sortAllocs(allocs []*structs.Allocation) {
	sort.SliceStable(allocs, func(i, k int) bool {
		if allocs[i].CreateIndex != allocs[k].CreateIndex {
			return allocs[i].CreateIndex > allocs[k].CreateIndex
		}
		return allocs[i].Name < allocs[k].Name
	})
}
