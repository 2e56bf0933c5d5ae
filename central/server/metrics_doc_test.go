package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// docsDir is the repository's docs folder, seen from this package.
const docsDir = "../../docs"

// notMetrics are `tether_...` words in the docs that name something else.
var notMetrics = map[string]string{
	"tether_token": "the UI's session cookie (docs/ui.md, docs/acl.md)",
}

// docSeries is a metric series as the docs name it.
type docSeries struct {
	name   string
	labels []string          // label names, sorted; nil when the docs give none
	typ    string            // counter or gauge, from the Metrics table; "" elsewhere
	values []string          // label values the table lists (its third column)
	wants  map[string]string // label="value" pairs a page quotes: some sample has them
	where  string            // file:line
}

var (
	backquoted = regexp.MustCompile("`([^`]+)`")
	seriesWord = regexp.MustCompile(`^(tether_[a-z0-9_]+|_[a-z0-9_]+)(?:\{([a-z_]+(?:="[^"]*")?(?:, ?[a-z_]+(?:="[^"]*")?)*)\})?(?: .*)?$`)
)

// documentedSeries reads every metric series the docs name: the rows of
// the Metrics table of docs/operations.md (where `_term` after
// `tether_raft_leader` stands for tether_raft_term) and any `tether_...`
// word in backquotes on any page.
func documentedSeries(t *testing.T) []docSeries {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs pages in %s (%v)", docsDir, err)
	}
	var out []docSeries
	for _, page := range pages {
		f, err := os.Open(page)
		if err != nil {
			t.Fatal(err)
		}
		inTable := false
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			if strings.HasPrefix(text, "## ") {
				inTable = filepath.Base(page) == "operations.md" && text == "## Metrics"
			}
			where := fmt.Sprintf("docs/%s:%d", filepath.Base(page), line)
			cells := strings.Split(text, "|")
			if inTable && strings.HasPrefix(text, "| `") && len(cells) >= 5 {
				// | series, ... | type | from |
				prefix := ""
				var values []string
				for _, m := range backquoted.FindAllStringSubmatch(cells[3], -1) {
					if !slices.Contains(values, m[1]) {
						values = append(values, m[1])
					}
				}
				for _, m := range backquoted.FindAllStringSubmatch(cells[1], -1) {
					s, ok := parseSeriesWord(m[1], &prefix)
					if !ok {
						t.Fatalf("%s: %q in the Metrics table is not a series name", where, m[1])
					}
					s.typ, s.values, s.where = strings.TrimSpace(cells[2]), values, where
					out = append(out, s)
				}
				continue
			}
			for _, m := range backquoted.FindAllStringSubmatch(text, -1) {
				if !strings.HasPrefix(m[1], "tether_") {
					continue
				}
				prefix := ""
				s, ok := parseSeriesWord(m[1], &prefix)
				if !ok || notMetrics[s.name] != "" {
					continue
				}
				s.where = where
				out = append(out, s)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// parseSeriesWord parses `tether_x_y{label}`, `tether_x_y{label="v"}` or,
// after one, `_z` (which takes the tether_x prefix of the first name of
// its cell).
func parseSeriesWord(word string, prefix *string) (docSeries, bool) {
	m := seriesWord.FindStringSubmatch(word)
	if m == nil {
		return docSeries{}, false
	}
	name := m[1]
	if strings.HasPrefix(name, "_") {
		if *prefix == "" {
			return docSeries{}, false
		}
		name = *prefix + name
	} else if *prefix == "" {
		parts := strings.SplitN(name, "_", 3)
		*prefix = parts[0] + "_" + parts[1]
	}
	s := docSeries{name: name}
	if m[2] != "" {
		for _, l := range strings.Split(m[2], ",") {
			k, v, quoted := strings.Cut(strings.TrimSpace(l), "=")
			s.labels = append(s.labels, k)
			if quoted {
				if s.wants == nil {
					s.wants = map[string]string{}
				}
				s.wants[k] = strings.Trim(v, `"`)
			}
		}
		sort.Strings(s.labels)
	}
	return s, true
}

// servedSample is one sample line of /v1/metrics.
type servedSample struct {
	labels map[string]string
}

// scrape reads /v1/metrics: samples and TYPE by series name.
func scrape(t *testing.T, s *Server) (map[string][]servedSample, map[string]string) {
	t.Helper()
	resp, err := http.Get(s.HTTPURL() + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	samples, types := map[string][]servedSample{}, map[string]string{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$`)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("/v1/metrics: line %q is not a sample", line)
		}
		ls := map[string]string{}
		for _, l := range label.FindAllStringSubmatch(m[2], -1) {
			ls[l[1]] = l[2]
		}
		samples[m[1]] = append(samples[m[1]], servedSample{labels: ls})
	}
	return samples, types
}

// metricsServer is a leader with an authenticated Raft transport (join
// secret) and the embedded broker, and one agent connected that has sent
// its hello, a heartbeat with every counter set, an update for a placed
// allocation and a malformed message, so every series has a sample.
func metricsServer(t *testing.T) *Server {
	s := testServerWith(t, func(c *Config) {
		c.HeartbeatTTL, c.HeartbeatGrace = time.Minute, -1
		c.JoinSecret = "metrics-test-join-secret-0123456789"
	})
	a, da := placeOne(t, s)
	a.report(1, da.ID, protocol.AllocRunning)
	a.publish(a.topics.Heartbeat(a.id), 0, &protocol.Heartbeat{V: protocol.Version, Seq: 1, Time: time.Now().UnixMilli(),
		Running: 1, Outbox: 2, Tasks: 1, Restarts: 3, Reconnects: 4, DiskUsed: 5 << 30, DiskAvail: 9 << 30, GCRemoved: 6,
		SoCTemp: 483, CPU: 125, MemUsedMiB: 300, Load1: 42})
	a.c.Publish(a.topics.Up(a.id), 1, false, []byte("not cbor")).Wait()
	eventually(t, 10*time.Second, func() error {
		samples, _ := scrape(t, s)
		for _, want := range []struct{ name, label, value string }{
			{"tether_agent_outbox", "node", a.id},
			{"tether_agent_gc_removed_total", "node", a.id},
			{"tether_agent_temperature_celsius", "node", a.id},
			{"tether_mqtt_dropped_total", "reason", "malformed"},
			{"tether_allocs", "client_status", protocol.AllocRunning},
		} {
			found := false
			for _, x := range samples[want.name] {
				found = found || x.labels[want.label] == want.value
			}
			if !found {
				return fmt.Errorf("no %s{%s=%q} yet", want.name, want.label, want.value)
			}
		}
		return nil
	})
	if _, _, err := s.SubmitJob(context.Background(), testJob(1)); err != nil {
		t.Fatal(err)
	}
	return s
}

// Every series the docs name is served by /v1/metrics, with the labels and
// type the docs give it, and the label values the Metrics table lists.
func TestMetricsDocumentedSeriesAreServed(t *testing.T) {
	docs := documentedSeries(t)
	s := metricsServer(t)
	samples, types := scrape(t, s)
	seen := map[string]bool{}
	for _, d := range docs {
		got, ok := samples[d.name]
		if !ok {
			t.Errorf("%s: documented series %s is not in GET /v1/metrics (implement it or correct the docs)", d.where, d.name)
			continue
		}
		if d.labels != nil {
			for _, x := range got {
				var names []string
				for k := range x.labels {
					names = append(names, k)
				}
				sort.Strings(names)
				if !slices.Equal(names, d.labels) {
					t.Errorf("%s: %s is documented with labels %v, served with %v", d.where, d.name, d.labels, names)
					break
				}
			}
		}
		if d.typ != "" && types[d.name] != d.typ {
			t.Errorf("%s: %s is documented as a %s, served as %q", d.where, d.name, d.typ, types[d.name])
		}
		if len(d.values) > 0 && len(d.labels) == 1 {
			var served []string
			for _, x := range got {
				served = append(served, x.labels[d.labels[0]])
			}
			sort.Strings(served)
			want := slices.Clone(d.values)
			sort.Strings(want)
			if !slices.Equal(served, want) {
				t.Errorf("%s: %s{%s} is documented with values %v, served with %v", d.where, d.name, d.labels[0], want, served)
			}
		}
		for k, v := range d.wants {
			found := false
			for _, x := range got {
				found = found || x.labels[k] == v
			}
			if !found {
				t.Errorf("%s: the docs quote %s{%s=%q}; no such sample is served", d.where, d.name, k, v)
			}
		}
		seen[d.name] = true
	}
	// The parser must have found the table: a few series it must hold.
	for _, name := range []string{"tether_agent_outbox", "tether_scheduler_evals_total", "tether_raft_term", "tether_agent_heartbeats_total"} {
		if !seen[name] {
			t.Errorf("the docs parser did not find %s in docs/operations.md's Metrics table", name)
		}
	}
	quoted := false
	for _, d := range docs {
		quoted = quoted || (d.name == "tether_mqtt_dropped_total" && d.wants["reason"] == "too_large")
	}
	if !quoted {
		t.Error(`the docs parser did not find tether_mqtt_dropped_total{reason="too_large"} (docs/fuzzing.md)`)
	}
}

// Every series /v1/metrics serves (on a leader with an agent connected) is
// a row of docs/operations.md's Metrics table.
func TestMetricsServedSeriesAreDocumented(t *testing.T) {
	inTable := map[string]bool{}
	for _, d := range documentedSeries(t) {
		if d.typ != "" {
			inTable[d.name] = true
		}
	}
	s := metricsServer(t)
	samples, _ := scrape(t, s)
	var missing []string
	for name := range samples {
		if !inTable[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("GET /v1/metrics serves series that docs/operations.md's Metrics table does not list (add a row: series, type, from):\n  %s", strings.Join(missing, "\n  "))
	}
}
