package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestDrainAndEligibility(t *testing.T) {
	b, srv := newTestServer(t)
	b.PutNode(&structs.Node{ID: "node-aaaa", Name: "pi", Status: structs.NodeReady, Eligible: true})
	node := func() *structs.Node { return b.NodeByID("node-aaaa") }

	tests := []struct {
		name          string
		path          string
		body          any
		code          int
		eligible      bool
		drain         bool
		errorContains string
	}{
		{"drain by prefix", "/v1/node/node-a/drain", map[string]any{"enable": true, "deadline": "1h"}, 200, false, true, ""},
		{"eligible while draining is refused", "/v1/node/node-aaaa/eligibility", map[string]string{"eligibility": "eligible"}, 400, false, true, "node drain -disable"},
		{"bad deadline", "/v1/node/node-aaaa/drain", map[string]any{"enable": true, "deadline": "soon"}, 400, false, true, "deadline"},
		{"undrain makes it eligible", "/v1/node/node-aaaa/drain", map[string]any{"enable": false}, 200, true, false, ""},
		{"ineligible", "/v1/node/node-aaaa/eligibility", map[string]string{"eligibility": "ineligible"}, 200, false, false, ""},
		{"bad eligibility", "/v1/node/node-aaaa/eligibility", map[string]string{"eligibility": "maybe"}, 400, false, false, "eligible"},
		{"unknown field", "/v1/node/node-aaaa/drain", map[string]any{"enabel": true}, 400, false, false, "unknown field"},
		{"unknown node", "/v1/node/zzz/drain", map[string]any{"enable": true}, 404, false, false, "not found"},
		{"eligible again", "/v1/node/node-aaaa/eligibility", map[string]string{"eligibility": "eligible"}, 200, true, false, ""},
	}
	for _, tt := range tests {
		r := do(t, srv, http.MethodPost, tt.path, tt.body)
		if r.code != tt.code {
			t.Fatalf("%s: HTTP %d, want %d: %s", tt.name, r.code, tt.code, r.body)
		}
		if tt.errorContains != "" && !strings.Contains(errorOf(t, r), tt.errorContains) {
			t.Errorf("%s: error %q does not mention %q", tt.name, errorOf(t, r), tt.errorContains)
		}
		if r.code == 200 {
			res := decode[api.NodeUpdateResponse](t, r)
			if res.NodeModifyIndex == 0 || res.EvalIDs == nil {
				t.Errorf("%s: response %s lacks index or eval_ids", tt.name, r.body)
			}
		}
		if n := node(); n.Eligible != tt.eligible || n.Drain != tt.drain {
			t.Errorf("%s: node eligible=%v drain=%v, want %v %v", tt.name, n.Eligible, n.Drain, tt.eligible, tt.drain)
		}
	}
	if r := do(t, srv, http.MethodGet, "/v1/node/node-aaaa/drain", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET drain: HTTP %d, want 405", r.code)
	}
}

func TestMetricsText(t *testing.T) {
	b, srv := newTestServer(t)
	b.PutNode(&structs.Node{ID: "n1", Status: structs.NodeReady, Eligible: true})
	b.PutNode(&structs.Node{ID: "n2", Status: structs.NodeDown, Drain: true})
	b.PutAlloc(&structs.Allocation{ID: "a1", NodeID: "n1", JobID: "web", Namespace: "default", ClientStatus: "running", DesiredStatus: "run"})
	b.ExtraMetrics = []api.Metric{
		api.Counter("tether_mqtt_dropped_total", "Dropped.", 3, "reason", "malformed"),
		api.Gauge("tether_agent_tasks", "Tasks.", 2, "node", `we"ird`),
	}
	r := do(t, srv, http.MethodGet, "/v1/metrics", nil)
	if r.code != 200 {
		t.Fatalf("HTTP %d: %s", r.code, r.body)
	}
	text := string(r.body)
	for _, want := range []string{
		"# TYPE tether_nodes gauge\n",
		`tether_nodes{status="ready"} 1` + "\n",
		`tether_nodes{status="down"} 1` + "\n",
		`tether_nodes{status="disconnected"} 0` + "\n",
		"tether_nodes_draining 1\n",
		`tether_allocs{client_status="running"} 1` + "\n",
		`tether_allocs{client_status="lost"} 0` + "\n",
		"# TYPE tether_mqtt_dropped_total counter\n",
		`tether_mqtt_dropped_total{reason="malformed"} 3` + "\n",
		`tether_agent_tasks{node="we\"ird"} 2` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "# TYPE tether_nodes gauge") != 1 {
		t.Errorf("TYPE of tether_nodes written more than once")
	}
}

func TestTaskLogs(t *testing.T) {
	b, srv := newTestServer(t)
	job := &jobspec.Job{ID: "web", Namespace: "default", TaskGroups: []*jobspec.TaskGroup{{Name: "g", Tasks: []*jobspec.Task{{Name: "server"}, {Name: "side"}}}}}
	b.PutAlloc(&structs.Allocation{ID: "alloc-1", NodeID: "n1", JobID: "web", Namespace: "default", TaskGroup: "g", Job: job, ClientStatus: "running", DesiredStatus: "run"})
	b.Logs = map[string]string{
		apitest.LogsKey("alloc-1", "server", false): "one\ntwo\nthree\n",
		apitest.LogsKey("alloc-1", "server", true):  "oops\n",
	}
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/v1/client/fs/logs/alloc-1?task=server", 200, "one\ntwo\nthree\n"},
		{"/v1/client/fs/logs/alloc?task=server&tail=true&lines=2", 200, "two\nthree\n"},
		{"/v1/client/fs/logs/alloc-1?task=server&type=stderr", 200, "oops\n"},
		{"/v1/client/fs/logs/alloc-1", 400, "name one with ?task="},
		{"/v1/client/fs/logs/alloc-1?task=nope", 404, "no task"},
		{"/v1/client/fs/logs/alloc-1?task=server&type=both", 400, "stdout or stderr"},
		{"/v1/client/fs/logs/alloc-1?task=server&lines=-1", 400, "lines"},
		{"/v1/client/fs/logs/alloc-1?task=side", 503, "no log"},
		{"/v1/client/fs/logs/missing?task=server", 404, "not found"},
	}
	for _, tt := range tests {
		r := do(t, srv, http.MethodGet, tt.path, nil)
		if r.code != tt.code {
			t.Errorf("%s: HTTP %d, want %d: %s", tt.path, r.code, tt.code, r.body)
			continue
		}
		got := string(r.body)
		if tt.code != 200 {
			got = errorOf(t, r)
			if !strings.Contains(got, tt.want) {
				t.Errorf("%s: error %q lacks %q", tt.path, got, tt.want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: body %q, want %q", tt.path, got, tt.want)
		}
	}
}
