package api

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// Metric is one sample in Prometheus' text format. Samples of one Name
// share Help and Type (the first one's are written).
type Metric struct {
	Name   string
	Help   string
	Type   string // gauge | counter
	Labels map[string]string
	Value  float64
}

// Gauge and Counter build samples.
func Gauge(name, help string, v float64, labels ...string) Metric {
	return Metric{Name: name, Help: help, Type: "gauge", Value: v, Labels: pairs(labels)}
}

// Counter builds a counter sample; labels are name, value pairs.
func Counter(name, help string, v float64, labels ...string) Metric {
	return Metric{Name: name, Help: help, Type: "counter", Value: v, Labels: pairs(labels)}
}

func pairs(kv []string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// metricsContentType is Prometheus' text exposition format.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

func (s *server) metrics(w http.ResponseWriter, r *http.Request) error {
	ms := append(stateMetrics(s.b.State()), s.b.Metrics()...)
	w.Header().Set("Content-Type", metricsContentType)
	return WriteMetrics(w, ms)
}

// stateMetrics are the gauges read from the state store.
func stateMetrics(st Reader) []Metric {
	var out []Metric
	nodes := map[string]int{structs.NodeInitializing: 0, structs.NodeReady: 0, structs.NodeDisconnected: 0, structs.NodeDown: 0}
	draining, ineligible := 0, 0
	versions := map[string]int{} // agent version of the nodes not down
	for _, n := range st.Nodes() {
		nodes[n.Status]++
		if n.Status != structs.NodeDown {
			versions[n.Version]++
		}
		if n.Drain {
			draining++
		}
		if !n.Eligible {
			ineligible++
		}
	}
	for _, k := range sortedKeys(nodes) {
		out = append(out, Gauge("tether_nodes", "Nodes by status.", float64(nodes[k]), "status", k))
	}
	out = append(out,
		Gauge("tether_nodes_draining", "Nodes being drained.", float64(draining)),
		Gauge("tether_nodes_ineligible", "Nodes ineligible for new work.", float64(ineligible)))
	for _, v := range sortedKeys(versions) {
		out = append(out, Gauge("tether_nodes_agent_version", "Nodes not down, by the agent version of their last hello.", float64(versions[v]), "version", v))
	}

	client := map[string]int{}
	for _, s := range []string{protocol.AllocPending, protocol.AllocRunning, protocol.AllocComplete, protocol.AllocFailed, protocol.AllocLost, protocol.AllocUnknown} {
		client[s] = 0
	}
	desired := map[string]int{protocol.DesiredRun: 0, protocol.DesiredStop: 0}
	for _, a := range st.Allocs() {
		client[a.ClientStatus]++
		desired[a.DesiredStatus]++
	}
	for _, k := range sortedKeys(client) {
		out = append(out, Gauge("tether_allocs", "Allocations by client status.", float64(client[k]), "client_status", k))
	}
	for _, k := range sortedKeys(desired) {
		out = append(out, Gauge("tether_allocs_desired", "Allocations by desired status.", float64(desired[k]), "desired_status", k))
	}

	jobs := st.Jobs("")
	evals := map[string]int{structs.EvalPending: 0, structs.EvalComplete: 0, structs.EvalFailed: 0, structs.EvalBlocked: 0}
	for _, j := range jobs {
		for _, e := range st.EvalsByJob(j.Namespace, j.ID) {
			evals[e.Status]++
		}
	}
	out = append(out, Gauge("tether_jobs", "Registered jobs.", float64(len(jobs))))
	for _, k := range sortedKeys(evals) {
		out = append(out, Gauge("tether_evals", "Evaluations of registered jobs by status.", float64(evals[k]), "status", k))
	}
	healthy := map[string]int{"true": 0, "false": 0}
	for _, r := range st.Services("") {
		healthy[strconv.FormatBool(r.Healthy)]++
	}
	for _, k := range sortedKeys(healthy) {
		out = append(out, Gauge("tether_service_instances", "Service instances by health.", float64(healthy[k]), "healthy", k))
	}
	for _, t := range []string{tableJobs, tableNodes, tableAllocs, tableEvals, tableServices} {
		out = append(out, Gauge("tether_state_index", "Last Raft index that changed a table.", float64(st.Index(t)), "table", t))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// WriteMetrics writes samples in Prometheus' text format, grouped by name
// in first-seen order, with one HELP and TYPE line per name.
func WriteMetrics(w io.Writer, ms []Metric) error {
	var names []string
	byName := map[string][]Metric{}
	for _, m := range ms {
		if _, ok := byName[m.Name]; !ok {
			names = append(names, m.Name)
		}
		byName[m.Name] = append(byName[m.Name], m)
	}
	var b strings.Builder
	for _, name := range names {
		group := byName[name]
		typ := group[0].Type
		if typ == "" {
			typ = "untyped"
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(group[0].Help), name, typ)
		for _, m := range group {
			b.WriteString(name)
			if len(m.Labels) > 0 {
				b.WriteByte('{')
				for i, k := range sortedKeys(m.Labels) {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=%q", k, escapeLabel(m.Labels[k]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(m.Value))
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// escapeLabel leaves what %q does not handle as Prometheus wants: %q
// already escapes backslash, quote and newline; it must not produce \x or
// \u escapes, so non-printable bytes are replaced.
func escapeLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' || r == 0x7f || r == 0xfffd {
			return '_'
		}
		return r
	}, s)
}
