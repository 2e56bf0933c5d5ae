package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// The jobs list shows each job's status as GET /v1/jobs reports it: a
// running service, a finished batch job (dead) and a job nothing could
// place (pending), whose page names the placement failure.
func TestJobStatusMatchesAPI(t *testing.T) {
	b, srv := seeded(t)
	for _, j := range []*jobspec.Job{
		{ID: "nightly", Namespace: "default", Type: "batch", Datacenters: []string{"dc2"},
			TaskGroups: []*jobspec.TaskGroup{{Name: "run", Count: 1, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec"}}}}},
		{ID: "huge", Namespace: "default", Type: "service", Datacenters: []string{"dc2"},
			TaskGroups: []*jobspec.TaskGroup{{Name: "big", Count: 2, Tasks: []*jobspec.Task{{Name: "t", Driver: "exec"}}}}},
	} {
		if _, _, err := b.SubmitJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	b.PutAlloc(&structs.Allocation{ID: "alloc-0009-cccc", Name: "nightly.run[0]", NodeID: "node-0001", JobID: "nightly", Namespace: "default",
		TaskGroup: "run", ClientStatus: "complete", DesiredStatus: "run"})
	b.PutEval(&structs.Evaluation{ID: "eval-huge-1", Namespace: "default", JobID: "huge", Status: structs.EvalComplete, CreateIndex: 1 << 40,
		QueuedAllocations: map[string]int{"big": 2},
		FailedTGAllocs:    map[string]*structs.AllocMetric{"big": {NodesEvaluated: 1, NodesExhausted: 1, DimensionExhausted: map[string]int{"memory": 1}}}})

	code, body := get(t, srv.URL+"/v1/jobs")
	var list []struct{ ID, Status string }
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("GET /v1/jobs: %d %s", code, body)
	}
	api := map[string]string{}
	for _, j := range list {
		api[j.ID] = j.Status
	}
	if api["web"] != "running" || api["nightly"] != "dead" || api["huge"] != "pending" {
		t.Fatalf("API statuses %v, want web running, nightly dead, huge pending", api)
	}
	_, page := get(t, srv.URL+"/ui/jobs")
	for id, status := range api {
		row := page[strings.Index(page, `href="/ui/jobs/`+id+`?`):]
		row = row[:strings.Index(row, "</tr>")]
		if !strings.Contains(row, `">`+status+`</td>`) {
			t.Errorf("jobs list row of %s does not show %q as the API does:\n%s", id, status, row)
		}
	}

	_, page = get(t, srv.URL+"/ui/jobs/huge")
	for _, want := range []string{"Placement failures", "Task group big: failed to place 2 allocations", `Dimension &#34;memory&#34; exhausted on 1 nodes`,
		`<td class="queued warn">2</td>`, `job-status warn">pending`, `&#34;id&#34;: &#34;huge&#34;`} {
		if !strings.Contains(page, want) {
			t.Errorf("job page of huge lacks %q:\n%s", want, page)
		}
	}
	_, page = get(t, srv.URL+"/ui/jobs/nightly")
	if !strings.Contains(page, `<td class="complete">1</td>`) || strings.Contains(page, "Placement failures") {
		t.Errorf("job page of nightly: want 1 complete in the summary and no placement failures:\n%s", page)
	}
}

// The job page's definition is the job as GET /v1/job/<id> gives it,
// wrapped as `central job inspect` prints it.
func TestJobPageDefinition(t *testing.T) {
	_, srv := seeded(t)
	_, apiBody := get(t, srv.URL+"/v1/job/web")
	var want jobspec.Job
	if err := json.Unmarshal([]byte(apiBody), &want); err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.MarshalIndent(struct {
		Job *jobspec.Job `json:"job"`
	}{&want}, "", "  ")
	_, page := get(t, srv.URL+"/ui/jobs/web")
	i := strings.Index(page, `<pre class="definition">`)
	if i < 0 {
		t.Fatalf("job page has no definition:\n%s", page)
	}
	def := page[i+len(`<pre class="definition">`):]
	def = def[:strings.Index(def, "</pre>")]
	if got := htmlUnescape(def); got != string(wantJSON) {
		t.Errorf("definition:\n%s\nwant (job inspect's):\n%s", got, wantJSON)
	}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// A client's page shows what it registered with and its allocations, and
// the clients list links to it; an unknown ID is a 404.
func TestClientPage(t *testing.T) {
	b, srv := seeded(t)
	b.PutNode(&structs.Node{ID: "node-0003", Name: "pi-attic", Datacenter: "dc2", Status: structs.NodeReady, Eligible: true, Version: "0.9.1",
		Drivers: []string{"exec"}, Attributes: map[string]string{"cpu.arch": "arm64"}, Meta: map[string]string{"rack": "r<1>"},
		Resources: structs.Resources{CPU: 4000, MemoryMB: 3800}})
	if _, body := get(t, srv.URL+"/ui/clients"); !strings.Contains(body, `<a href="/ui/clients/node-0003">pi-attic</a>`) {
		t.Errorf("clients list does not link to the client page:\n%s", body)
	}
	for _, path := range []string{"/ui/clients/node-0003", "/ui/clients/node-0003?fragment=1"} {
		code, body := get(t, srv.URL+path)
		for _, want := range []string{"pi-attic", "0.9.1", "cpu.arch", "arm64", "rack", "r&lt;1&gt;", "4000 MHz", "3800 MB", `class="drivers">exec`, `class="ok">ready`} {
			if code != 200 || !strings.Contains(body, want) {
				t.Errorf("%s: HTTP %d, lacks %q:\n%s", path, code, want, body)
			}
		}
	}
	if _, body := get(t, srv.URL+"/ui/clients/node-0001"); !strings.Contains(body, `href="/ui/allocations/alloc-0001-aaaa"`) {
		t.Errorf("client page lacks its allocation:\n%s", body)
	}
	if code, _ := get(t, srv.URL+"/ui/clients/nope"); code != 404 {
		t.Errorf("unknown client: HTTP %d, want 404", code)
	}
	if code, _ := get(t, srv.URL+"/ui/clients/node-000"); code != 404 {
		t.Errorf("ambiguous client prefix: HTTP %d, want 404", code)
	}
}

// / redirects to the UI, as on Nomad; unknown API paths stay API 404s.
func TestRootRedirectsToUI(t *testing.T) {
	_, srv := seeded(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: HTTP %d to %q, want 307 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/v1/nope", "/nope", "/v1/"} {
		if code, body := get(t, srv.URL+path); code != 404 || !strings.Contains(body, "no such endpoint") {
			t.Errorf("GET %s: HTTP %d %s, want the API's 404", path, code, body)
		}
	}
}

// The log page names the task and the stream its script follows; a task
// the allocation lacks is a 404.
func TestLogsPage(t *testing.T) {
	_, srv := seeded(t)
	code, body := get(t, srv.URL+"/ui/allocations/alloc-0001/logs?type=stderr")
	for _, want := range []string{`data-src="/v1/client/fs/logs/alloc-0001-aaaa?follow=true&amp;lines=200&amp;tail=true&amp;task=server&amp;type=stderr"`, `data-follow="true"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("logs page: HTTP %d, lacks %q:\n%s", code, want, body)
		}
	}
	if _, body := get(t, srv.URL+"/ui/allocations/alloc-0001/logs?follow=false"); !strings.Contains(body, "follow=false") || !strings.Contains(body, "type=stdout") {
		t.Errorf("logs page without follow:\n%s", body)
	}
	for _, path := range []string{"/ui/allocations/alloc-0001/logs?task=nope", "/ui/allocations/alloc-0001/logs?type=stdin"} {
		if code, _ := get(t, srv.URL+path); code != 404 {
			t.Errorf("%s: HTTP %d, want 404", path, code)
		}
	}
}

// The client list shows 250 clients a page, sorted by datacenter and
// name; each datacenter's counts are over all its nodes.
func TestClientsPaged(t *testing.T) {
	b := apitest.New()
	for i := 0; i < 600; i++ {
		b.PutNode(&structs.Node{ID: fmt.Sprintf("n-%04d", i), Name: fmt.Sprintf("edge-%04d", i), Datacenter: []string{"dc-a", "dc-b"}[i/400], Status: structs.NodeReady, Eligible: true})
	}
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	rows := regexp.MustCompile(`<tr class="client" data-node="n-(\d+)">`)
	for _, tc := range []struct {
		page        string
		first, last string
		n           int
		want        []string
	}{
		{"", "0000", "0249", 250, []string{"1–250 on page 1 of 3", "Datacenter dc-a <small>400 nodes", `href="/ui/clients?page=2">next`}},
		{"?page=2", "0250", "0499", 250, []string{"Datacenter dc-a <small>400 nodes", "Datacenter dc-b <small>200 nodes", `href="/ui/clients?page=1">← previous`, `href="/ui/clients?page=3">next`}},
		{"?page=3", "0500", "0599", 100, []string{"501–600 on page 3 of 3", "Datacenter dc-b"}},
	} {
		code, body := get(t, srv.URL+"/ui/clients"+tc.page)
		got := rows.FindAllStringSubmatch(body, -1)
		if code != 200 || len(got) != tc.n || got[0][1] != tc.first || got[len(got)-1][1] != tc.last {
			t.Errorf("page %q: HTTP %d, %d rows from %v to %v, want %d from %s to %s", tc.page, code, len(got), got[0], got[len(got)-1], tc.n, tc.first, tc.last)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("page %q lacks %q", tc.page, w)
			}
		}
	}
	if _, body := get(t, srv.URL+"/ui/clients?page=3"); strings.Contains(body, "Datacenter dc-a") {
		t.Errorf("page 3 shows datacenter dc-a, which has no node on it")
	}
	for _, bad := range []string{"?page=4", "?page=0", "?page=x"} {
		if code, _ := get(t, srv.URL+"/ui/clients"+bad); code != 400 {
			t.Errorf("%s: HTTP %d, want 400", bad, code)
		}
	}
}
