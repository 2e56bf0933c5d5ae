package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

const webHCL = `job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`

func newTestServer(t *testing.T) (*apitest.Backend, *httptest.Server) {
	t.Helper()
	b := apitest.New()
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	return b, srv
}

type response struct {
	code  int
	index string
	body  []byte
}

func do(t *testing.T, srv *httptest.Server, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, index: resp.Header.Get(api.IndexHeader), body: b}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

func errorOf(t *testing.T, r response) string {
	t.Helper()
	return decode[struct {
		Error string `json:"error"`
	}](t, r).Error
}

// seed stores a node, a submitted job "web" and two allocations of it.
func seed(t *testing.T, b *apitest.Backend, srv *httptest.Server) (evalID string, allocs []*structs.Allocation) {
	t.Helper()
	b.PutNode(&structs.Node{ID: "aaaa1111-0000-0000-0000-000000000001", Name: "pi-1", Datacenter: "dc1", Status: "ready",
		Drivers: []string{"exec"}, Attributes: map[string]string{"cpu.arch": "arm64"}})
	b.PutNode(&structs.Node{ID: "aaaa2222-0000-0000-0000-000000000002", Name: "pi-2", Datacenter: "dc1", Status: "ready"})
	r := do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": webHCL, "filename": "web.hcl"})
	if r.code != 200 {
		t.Fatalf("submit: %d %s", r.code, r.body)
	}
	sub := decode[api.SubmitResponse](t, r)
	for i, id := range []string{"bbbb0001-0000-0000-0000-000000000001", "bbbb0002-0000-0000-0000-000000000002"} {
		a := &structs.Allocation{ID: id, Namespace: "default", EvalID: sub.EvalID, JobID: "web", TaskGroup: "web",
			Name: fmt.Sprintf("web.web[%d]", i), NodeID: "aaaa1111-0000-0000-0000-000000000001",
			DesiredStatus: "run", ClientStatus: "running", Score: 0.5,
			TaskStates: map[string]*structs.TaskState{"server": {State: "running", Restarts: 1,
				Events: []structs.TaskEvent{{Type: "Started", Time: 5, Message: "Task started"}}}}}
		allocs = append(allocs, a)
	}
	allocs[1].ClientStatus = "pending"
	b.PutAlloc(allocs...)
	return sub.EvalID, allocs
}

func TestSubmitHCL(t *testing.T) {
	b, srv := newTestServer(t)
	r := do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": webHCL, "filename": "web.hcl", "variables": map[string]string{}})
	if r.code != 200 {
		t.Fatalf("code %d: %s", r.code, r.body)
	}
	sub := decode[api.SubmitResponse](t, r)
	if sub.EvalID == "" || sub.JobModifyIndex == 0 {
		t.Fatalf("response %s lacks eval_id or job_modify_index", r.body)
	}
	if r.index != strconv.FormatUint(sub.JobModifyIndex, 10) {
		t.Errorf("X-Tether-Index = %q, want %d", r.index, sub.JobModifyIndex)
	}
	if !bytes.Contains(r.body, []byte(`"warnings":""`)) {
		t.Errorf("response %s lacks warnings", r.body)
	}
	if b.JobByID("default", "web") == nil {
		t.Fatal("job web not stored")
	}
	if e := b.EvalByID(sub.EvalID); e == nil || e.JobID != "web" {
		t.Fatalf("eval %s not stored for web", sub.EvalID)
	}
	// PUT works too and makes a new version.
	r = do(t, srv, "PUT", "/v1/jobs", map[string]any{"hcl": webHCL})
	if r.code != 200 {
		t.Fatalf("PUT code %d: %s", r.code, r.body)
	}
	if v := b.JobByID("default", "web").Version; v != 1 {
		t.Errorf("version after resubmit = %d, want 1", v)
	}
}

func TestSubmitJSONJob(t *testing.T) {
	b, srv := newTestServer(t)
	job := map[string]any{"id": "batchy", "type": "batch", "datacenters": []string{"dc1"},
		"task_groups": []any{map[string]any{"name": "g", "count": 1, "tasks": []any{map[string]any{
			"name": "t", "driver": "exec", "config": map[string]any{"command": "/bin/true"},
			"resources": map[string]any{"cpu": 100, "memory_mb": 64}}}}}}
	r := do(t, srv, "POST", "/v1/jobs?namespace=edge", map[string]any{"job": job})
	if r.code != 200 {
		t.Fatalf("code %d: %s", r.code, r.body)
	}
	j := b.JobByID("edge", "batchy")
	if j == nil {
		t.Fatal("job batchy not stored in namespace edge")
	}
	if j.Name != "batchy" {
		t.Errorf("Canonicalize not applied: name %q", j.Name)
	}
}

func TestSubmitErrors(t *testing.T) {
	_, srv := newTestServer(t)
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"not json", `hello`, 400, "decoding request body"},
		{"empty object", `{}`, 400, "neither"},
		{"both", `{"hcl":"job \"x\" {}","job":{"id":"x"}}`, 400, "both"},
		{"unknown field", `{"hlc":"x"}`, 400, "unknown field"},
		{"trailing data", `{"hcl":"x"} {}`, 400, "after the JSON"},
		{"parse error names file and line", `{"hcl":"job \"web\" {\n  BROKEN = \n}","filename":"web.hcl"}`, 400, "web.hcl:"},
		{"default filename", `{"hcl":"job \"web\" {\n  BROKEN = \n}"}`, 400, "job.hcl:"},
		{"invalid json job", `{"job":{"id":""}}`, 400, ""},
		{"vars with job", `{"job":{"id":"x"},"variables":{"a":"b"}}`, 400, "variables"},
		{"null task group", `{"job":{"id":"x","task_groups":[null]}}`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, "POST", "/v1/jobs", tc.body)
			if r.code != tc.code {
				t.Fatalf("code %d, want %d: %s", r.code, tc.code, r.body)
			}
			if msg := errorOf(t, r); msg == "" || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
}

func TestSubmitNamespaceConflict(t *testing.T) {
	_, srv := newTestServer(t)
	r := do(t, srv, "POST", "/v1/jobs?namespace=a", `{"job":{"id":"x","namespace":"b","type":"service","datacenters":["dc1"],"task_groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"exec","config":{"command":"/bin/true"},"resources":{"cpu":1,"memory_mb":1}}]}]}}`)
	if r.code != 400 || !strings.Contains(errorOf(t, r), "namespace") {
		t.Fatalf("got %d %s, want 400 naming the namespace", r.code, r.body)
	}
}

func TestSubmitBodyTooLarge(t *testing.T) {
	_, srv := newTestServer(t)
	r := do(t, srv, "POST", "/v1/jobs", `{"hcl":"`+strings.Repeat("x", 5<<20)+`"}`)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("code %d, want 413", r.code)
	}
}

func TestWriteFailureIs500(t *testing.T) {
	b, srv := newTestServer(t)
	seed(t, b, srv)
	b.WriteErr = errors.New("no cluster leader: start more servers")
	for _, tc := range []struct{ method, path string }{{"POST", "/v1/jobs"}, {"DELETE", "/v1/job/web"}} {
		r := do(t, srv, tc.method, tc.path, map[string]any{"hcl": webHCL})
		if r.code != 500 || errorOf(t, r) != "no cluster leader: start more servers" {
			t.Errorf("%s %s: got %d %s, want 500 with the backend's message", tc.method, tc.path, r.code, r.body)
		}
	}
}

func TestJobEndpoints(t *testing.T) {
	b, srv := newTestServer(t)
	evalID, _ := seed(t, b, srv)

	r := do(t, srv, "GET", "/v1/jobs", nil)
	list := decode[[]map[string]any](t, r)
	if r.code != 200 || len(list) != 1 || list[0]["id"] != "web" {
		t.Fatalf("GET /v1/jobs: %d %s", r.code, r.body)
	}
	if list[0]["status"] != "running" {
		t.Errorf("derived status = %v, want running", list[0]["status"])
	}
	sum := list[0]["summary"].(map[string]any)["web"].(map[string]any)
	if sum["running"] != 1.0 || sum["pending"] != 1.0 {
		t.Errorf("summary = %v, want 1 running 1 pending", sum)
	}
	if r.index != strconv.FormatUint(b.Index("jobs"), 10) {
		t.Errorf("X-Tether-Index %q, want jobs index %d", r.index, b.Index("jobs"))
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/jobs?prefix=zz", nil)); len(got) != 0 {
		t.Errorf("prefix zz matched %v", got)
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/jobs?namespace=*", nil)); len(got) != 1 {
		t.Errorf("namespace * listed %d jobs, want 1", len(got))
	}

	r = do(t, srv, "GET", "/v1/job/web", nil)
	if j := decode[map[string]any](t, r); r.code != 200 || j["id"] != "web" || j["task_groups"] == nil {
		t.Fatalf("GET /v1/job/web: %d %s", r.code, r.body)
	}

	r = do(t, srv, "GET", "/v1/job/web/allocations", nil)
	allocs := decode[[]map[string]any](t, r)
	if len(allocs) != 2 || r.index != strconv.FormatUint(b.Index("allocs"), 10) {
		t.Fatalf("allocations: %s index %s", r.body, r.index)
	}
	for _, k := range []string{"id", "job_id", "task_group", "node_id", "client_status", "desired_status", "score", "task_states"} {
		if _, ok := allocs[0][k]; !ok {
			t.Errorf("alloc JSON lacks %q: %v", k, allocs[0])
		}
	}

	evals := decode[[]map[string]any](t, do(t, srv, "GET", "/v1/job/web/evaluations", nil))
	if len(evals) != 1 || evals[0]["id"] != evalID {
		t.Errorf("evaluations: %v", evals)
	}

	do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": webHCL})
	vs := decode[struct {
		Versions []map[string]any `json:"versions"`
	}](t, do(t, srv, "GET", "/v1/job/web/versions", nil))
	if len(vs.Versions) != 2 || vs.Versions[0]["version"] != 1.0 {
		t.Errorf("versions not newest first: %v", vs)
	}

	s := decode[api.JobSummary](t, do(t, srv, "GET", "/v1/job/web/summary", nil))
	if s.JobID != "web" || s.Summary["web"] == nil || s.Summary["web"].Running != 1 {
		t.Errorf("summary: %+v", s)
	}

	for _, p := range []string{"/v1/job/nope", "/v1/job/nope/versions", "/v1/job/nope/summary"} {
		r := do(t, srv, "GET", p, nil)
		if r.code != 404 || !strings.Contains(errorOf(t, r), `"nope"`) {
			t.Errorf("GET %s: %d %s, want 404 naming the job", p, r.code, r.body)
		}
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/job/nope/allocations", nil)); got == nil || len(got) != 0 {
		t.Errorf("allocations of unknown job = %v, want []", got)
	}
}

func TestStopJob(t *testing.T) {
	b, srv := newTestServer(t)
	seed(t, b, srv)
	r := do(t, srv, "DELETE", "/v1/job/web", nil)
	sub := decode[api.SubmitResponse](t, r)
	if r.code != 200 || sub.EvalID == "" {
		t.Fatalf("stop: %d %s", r.code, r.body)
	}
	if !b.JobByID("default", "web").Stop {
		t.Error("job not stopped")
	}
	if r := do(t, srv, "DELETE", "/v1/job/web?purge=maybe", nil); r.code != 400 {
		t.Errorf("purge=maybe: %d, want 400", r.code)
	}
	if r := do(t, srv, "DELETE", "/v1/job/web?purge=true", nil); r.code != 200 || b.JobByID("default", "web") != nil {
		t.Errorf("purge: %d %s, job still there: %v", r.code, r.body, b.JobByID("default", "web") != nil)
	}
	if r := do(t, srv, "DELETE", "/v1/job/web", nil); r.code != 404 {
		t.Errorf("stop of purged job: %d, want 404", r.code)
	}
}

func TestNodeEndpoints(t *testing.T) {
	b, srv := newTestServer(t)
	seed(t, b, srv)
	r := do(t, srv, "GET", "/v1/nodes", nil)
	nodes := decode[[]map[string]any](t, r)
	if len(nodes) != 2 || r.index != strconv.FormatUint(b.Index("nodes"), 10) {
		t.Fatalf("nodes: %s", r.body)
	}
	// pi-2 has nil drivers and attributes: rendered [] and {}.
	if string(mustJSON(t, nodes[1]["drivers"])) != "[]" || string(mustJSON(t, nodes[1]["attributes"])) != "{}" {
		t.Errorf("nil slice/map rendered as %v / %v", nodes[1]["drivers"], nodes[1]["attributes"])
	}
	tests := []struct {
		path, wantID string
		code         int
	}{
		{"/v1/node/aaaa1111-0000-0000-0000-000000000001", "aaaa1111-0000-0000-0000-000000000001", 200},
		{"/v1/node/aaaa1", "aaaa1111-0000-0000-0000-000000000001", 200},
		{"/v1/node/aaaa", "", 400},
		{"/v1/node/ffff", "", 404},
	}
	for _, tc := range tests {
		r := do(t, srv, "GET", tc.path, nil)
		if r.code != tc.code {
			t.Errorf("GET %s: %d, want %d: %s", tc.path, r.code, tc.code, r.body)
			continue
		}
		if tc.code == 400 && !strings.Contains(errorOf(t, r), "aaaa2222-0000-0000-0000-000000000002") {
			t.Errorf("ambiguous prefix error does not list candidates: %s", r.body)
		}
		if tc.wantID != "" && decode[map[string]any](t, r)["id"] != tc.wantID {
			t.Errorf("GET %s: %s", tc.path, r.body)
		}
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/node/aaaa1/allocations", nil)); len(got) != 2 {
		t.Errorf("node allocations: %d, want 2", len(got))
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/nodes?prefix=aaaa2", nil)); len(got) != 1 {
		t.Errorf("nodes?prefix: %d, want 1", len(got))
	}
}

func TestAllocAndEvalEndpoints(t *testing.T) {
	b, srv := newTestServer(t)
	evalID, allocs := seed(t, b, srv)
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/allocations", nil)); len(got) != 2 {
		t.Errorf("allocations: %d, want 2", len(got))
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/allocations?prefix=bbbb0002", nil)); len(got) != 1 {
		t.Errorf("allocations?prefix: %d, want 1", len(got))
	}
	r := do(t, srv, "GET", "/v1/allocation/bbbb0001", nil)
	a := decode[map[string]any](t, r)
	if r.code != 200 || a["id"] != allocs[0].ID {
		t.Fatalf("alloc by prefix: %d %s", r.code, r.body)
	}
	ts := a["task_states"].(map[string]any)["server"].(map[string]any)
	ev := ts["events"].([]any)[0].(map[string]any)
	if ts["state"] != "running" || ts["restarts"] != 1.0 || ev["type"] != "Started" || ev["time"] != 5.0 || ev["message"] != "Task started" {
		t.Errorf("task_states: %v", ts)
	}
	r = do(t, srv, "GET", "/v1/allocation/bbbb", nil)
	if msg := errorOf(t, r); r.code != 400 || !strings.Contains(msg, allocs[0].ID) || !strings.Contains(msg, allocs[1].ID) {
		t.Errorf("ambiguous alloc: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "GET", "/v1/allocation/cccc", nil); r.code != 404 {
		t.Errorf("unknown alloc: %d", r.code)
	}
	r = do(t, srv, "GET", "/v1/evaluation/"+evalID, nil)
	if e := decode[map[string]any](t, r); r.code != 200 || e["id"] != evalID || e["triggered_by"] != "job-register" {
		t.Errorf("eval: %d %s", r.code, r.body)
	}
	if got := decode[[]any](t, do(t, srv, "GET", "/v1/evaluation/"+evalID+"/allocations", nil)); len(got) != 2 {
		t.Errorf("eval allocations: %d, want 2", len(got))
	}
	for _, p := range []string{"/v1/evaluation/nope", "/v1/evaluation/nope/allocations"} {
		if r := do(t, srv, "GET", p, nil); r.code != 404 {
			t.Errorf("%s: %d, want 404", p, r.code)
		}
	}
}

func TestClusterEndpoints(t *testing.T) {
	_, srv := newTestServer(t)
	r := do(t, srv, "GET", "/v1/status/leader", nil)
	if strings.TrimSpace(string(r.body)) != `"127.0.0.1:7600"` || r.index == "" {
		t.Errorf("leader: %s (index %q)", r.body, r.index)
	}
	m := decode[struct {
		Members []api.Member `json:"members"`
	}](t, do(t, srv, "GET", "/v1/agent/members", nil))
	if len(m.Members) != 1 || !m.Members[0].Leader || m.Members[0].Name != "server-1" {
		t.Errorf("members: %+v", m)
	}
	if s := decode[map[string]any](t, do(t, srv, "GET", "/v1/agent/self", nil)); s["name"] != "server-1" {
		t.Errorf("self: %v", s)
	}
}

func TestMethodAndRouteErrors(t *testing.T) {
	_, srv := newTestServer(t)
	tests := []struct {
		method, path string
		code         int
	}{
		{"DELETE", "/v1/jobs", 405},
		{"POST", "/v1/job/web", 405},
		{"POST", "/v1/nodes", 405},
		{"GET", "/v1/nothing", 404},
		{"GET", "/nothing", 404}, // "/" itself redirects to the UI (central/ui TestRootRedirectsToUI)
		{"POST", "/", 404},
	}
	for _, tc := range tests {
		r := do(t, srv, tc.method, tc.path, nil)
		if r.code != tc.code || errorOf(t, r) == "" {
			t.Errorf("%s %s: %d %s, want %d with an error body", tc.method, tc.path, r.code, r.body, tc.code)
		}
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	_, srv := newTestServer(t)
	for _, p := range []string{"/v1/jobs", "/v1/nodes", "/v1/allocations"} {
		r := do(t, srv, "GET", p, nil)
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("GET %s = %s, want []", p, r.body)
		}
	}
}

func TestBlockingQuery(t *testing.T) {
	b, srv := newTestServer(t)
	seed(t, b, srv)
	idx := b.Index("allocs")

	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"index=x", "index=-1", "index=1&wait=soon"} {
			if r := do(t, srv, "GET", "/v1/allocations?"+q, nil); r.code != 400 {
				t.Errorf("?%s: %d, want 400", q, r.code)
			}
		}
	})
	t.Run("returns at once when already past", func(t *testing.T) {
		r := do(t, srv, "GET", fmt.Sprintf("/v1/allocations?index=%d&wait=1m", idx-1), nil)
		if r.index != strconv.FormatUint(idx, 10) {
			t.Errorf("index %s, want %d", r.index, idx)
		}
	})
	t.Run("returns after the wait", func(t *testing.T) {
		start := time.Now()
		r := do(t, srv, "GET", fmt.Sprintf("/v1/allocations?index=%d&wait=100ms", idx), nil)
		if r.code != 200 || r.index != strconv.FormatUint(idx, 10) {
			t.Errorf("got %d index %s, want 200 index %d", r.code, r.index, idx)
		}
		if el := time.Since(start); el < 100*time.Millisecond {
			t.Errorf("returned after %v, before the 100ms wait", el)
		}
	})
	t.Run("bare milliseconds", func(t *testing.T) {
		start := time.Now()
		do(t, srv, "GET", fmt.Sprintf("/v1/allocations?index=%d&wait=50", idx), nil)
		if el := time.Since(start); el < 50*time.Millisecond {
			t.Errorf("returned after %v, before the 50ms wait", el)
		}
	})
	t.Run("returns after a change", func(t *testing.T) {
		done := make(chan response, 1)
		go func() {
			done <- do(t, srv, "GET", fmt.Sprintf("/v1/allocation/bbbb0001?index=%d&wait=1m", idx), nil)
		}()
		// Writes to other tables do not wake it.
		b.PutNode(&structs.Node{ID: "n3"})
		select {
		case r := <-done:
			t.Fatalf("returned on a nodes change: %s", r.index)
		default:
		}
		b.UpdateAlloc("bbbb0001-0000-0000-0000-000000000001", func(a *structs.Allocation) { a.ClientStatus = "complete" })
		select {
		case r := <-done:
			a := decode[map[string]any](t, r)
			if a["client_status"] != "complete" || r.index != strconv.FormatUint(b.Index("allocs"), 10) {
				t.Errorf("after change: %v index %s", a["client_status"], r.index)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("blocking query did not return after the change")
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
