package ui_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// renderedAction is one action form as a page renders it.
type renderedAction struct{ kind, method, url, body string }

var actionForm = regexp.MustCompile(`<form class="action" data-kind="([a-z-]+)" data-method="([A-Z]+)" data-url="([^"]*)" data-body="([^"]*)"`)

func actionsOn(body string) map[string]renderedAction {
	out := map[string]renderedAction{}
	for _, m := range actionForm.FindAllStringSubmatch(body, -1) {
		out[m[1]] = renderedAction{m[1], m[2], html.UnescapeString(m[3]), html.UnescapeString(m[4])}
	}
	return out
}

// send makes the request an action's button makes, with token and extra
// headers ("Name: value" lines).
func send(t *testing.T, base string, a renderedAction, token, headers string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(a.method, base+a.url, strings.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	if a.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Tether-Token", token)
	}
	for _, l := range strings.Split(headers, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A management token sees the actions on the job, client and allocation
// pages; a token that may only read sees none, and the requests the
// buttons make are refused to it by the API (a page of another origin is
// refused by api.SameOrigin: test/ui_actions_test.go). With the management token,
// Stop then Start goes back to the version that ran.
func TestActionsShownOnlyToTokensThatMay(t *testing.T) {
	b, srv, mgmt, reader := twoNamespaces(t)
	pages := map[string]string{
		"/ui/jobs/web?namespace=default":          "job-stop",
		"/ui/clients/node-0001":                   "node-drain",
		"/ui/allocations/" + allocWeb0:            "alloc-restart",
		"/ui/jobs/vault-sync?namespace=hidden-ns": "job-stop",
	}
	seen := map[string]renderedAction{}
	for path, kind := range pages {
		code, body := call(t, "GET", srv.URL+path, mgmt, nil)
		a, ok := actionsOn(body)[kind]
		if code != 200 || !ok {
			t.Fatalf("%s with the management token: HTTP %d, no %s action:\n%s", path, code, kind, body)
		}
		if kind == "job-stop" && !strings.Contains(body, `data-confirm="Stop job `) {
			t.Errorf("%s: stopping a job asks for no confirmation", path)
		}
		seen[path] = a
		if _, body := call(t, "GET", srv.URL+path, reader, nil); len(actionsOn(body)) != 0 || strings.Contains(body, `class="action"`) {
			t.Errorf("%s: a read-only token is shown actions %v", path, actionsOn(body))
		}
	}
	for _, path := range []string{"/ui/jobs/web?namespace=default", "/ui/clients/node-0001", "/ui/allocations/" + allocWeb0} {
		a := seen[path]
		if code, body := send(t, srv.URL, a, reader, ""); code != http.StatusForbidden {
			t.Errorf("%s %s with a read-only token: HTTP %d %s, want 403", a.method, a.url, code, body)
		}
		if code, body := send(t, srv.URL, a, "", ""); code != http.StatusForbidden {
			t.Errorf("%s %s without a token: HTTP %d %s, want 403", a.method, a.url, code, body)
		}
	}
	if j := b.JobByID("default", "web"); j.Stop {
		t.Fatal("a refused request stopped job web")
	}
	if n := b.NodeByID("node-0001"); n.Drain {
		t.Fatal("a refused request drained node-0001")
	}

	// Stop, then Start: the job's newest version that ran comes back.
	stop := seen["/ui/jobs/web?namespace=default"]
	if stop.method != "DELETE" || stop.url != "/v1/job/web?namespace=default" {
		t.Errorf("stop action %+v", stop)
	}
	if code, body := send(t, srv.URL, stop, mgmt, ""); code != 200 {
		t.Fatalf("stop with the management token: HTTP %d %s", code, body)
	}
	j := b.JobByID("default", "web")
	if !j.Stop {
		t.Fatal("job web not stopped")
	}
	_, body := call(t, "GET", srv.URL+"/ui/jobs/web?namespace=default", mgmt, nil)
	start, ok := actionsOn(body)["job-start"]
	if !ok || actionsOn(body)["job-stop"] != (renderedAction{}) {
		t.Fatalf("a stopped job's page offers %v, want job-start only", actionsOn(body))
	}
	if start.url != "/v1/job/web/revert?namespace=default" || start.body != `{"enforce_prior_version":1,"job_version":0}` {
		t.Errorf("start action %+v, want a revert to version 0 from 1", start)
	}
	if code, body := send(t, srv.URL, start, reader, ""); code != http.StatusForbidden {
		t.Errorf("start with a read-only token: HTTP %d %s, want 403", code, body)
	}
	if code, body := send(t, srv.URL, start, mgmt, "Origin: "+srv.URL+"\nSec-Fetch-Site: same-origin"); code != 200 {
		t.Fatalf("start with the management token: HTTP %d %s", code, body)
	}
	if j := b.JobByID("default", "web"); j.Stop || j.Version != 2 {
		t.Errorf("after start: stop %v version %d, want running version 2", j.Stop, j.Version)
	}

	// Drain, then make eligible again.
	drain := seen["/ui/clients/node-0001"]
	if code, body := send(t, srv.URL, drain, mgmt, ""); code != 200 {
		t.Fatalf("drain: HTTP %d %s", code, body)
	}
	if n := b.NodeByID("node-0001"); !n.Drain {
		t.Fatal("node-0001 not draining")
	}
	_, body = call(t, "GET", srv.URL+"/ui/clients/node-0001", mgmt, nil)
	undrain, ok := actionsOn(body)["node-eligible"]
	if !ok {
		t.Fatalf("a draining node's page offers %v, want node-eligible", actionsOn(body))
	}
	if code, body := send(t, srv.URL, undrain, mgmt, ""); code != 200 {
		t.Fatalf("make eligible: HTTP %d %s", code, body)
	}
	if n := b.NodeByID("node-0001"); n.Drain || !n.Eligible {
		t.Errorf("after make eligible: drain %v eligible %v", n.Drain, n.Eligible)
	}
}

// deployBackend is apitest's backend whose state also holds deployments.
type deployBackend struct {
	*apitest.Backend
	ds []*structs.Deployment
}

func (b *deployBackend) State() api.Reader { return deployState{b.Backend, b.ds} }

type deployState struct {
	api.Reader
	ds []*structs.Deployment
}

func (s deployState) DeploymentByID(id string) *structs.Deployment {
	for _, d := range s.ds {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (s deployState) DeploymentsByIDPrefix(p string) []*structs.Deployment {
	var out []*structs.Deployment
	for _, d := range s.ds {
		if strings.HasPrefix(d.ID, p) {
			out = append(out, d)
		}
	}
	return out
}

func (s deployState) Deployments(string) []*structs.Deployment        { return s.ds }
func (s deployState) AllocsByDeployment(string) []*structs.Allocation { return nil }
func (s deployState) DeploymentsByJob(ns, jobID string) []*structs.Deployment {
	var out []*structs.Deployment
	for _, d := range s.ds {
		if d.Namespace == ns && d.JobID == jobID {
			out = append(out, d)
		}
	}
	return out
}

// The job page shows its active deployment per group (desired, placed,
// healthy, unhealthy, canaries) with Promote and Fail to a token that may
// submit jobs, and without them to one that may only read; a finished
// deployment has no buttons.
func TestJobPageDeploymentActions(t *testing.T) {
	b := &deployBackend{Backend: apitest.New()}
	job := &jobspec.Job{ID: "web", Namespace: "default", Type: "service", Datacenters: []string{"dc1"},
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 3, Tasks: []*jobspec.Task{{Name: "server", Driver: "exec"}}}}}
	if _, _, err := b.SubmitJob(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	d := &structs.Deployment{ID: "d0d0d0d0-0000-4000-8000-000000000001", Namespace: "default", JobID: "web", JobVersion: 0,
		Status: structs.DeploymentRunning, CreateIndex: 5, TaskGroups: map[string]*structs.DeploymentState{
			"g": {DesiredTotal: 3, DesiredCanaries: 1, PlacedCanaries: []string{"c1"}, PlacedAllocs: 2, HealthyAllocs: 1, UnhealthyAllocs: 1}}}
	b.ds = []*structs.Deployment{d}
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	b.ACL = true
	var tok acl.TokenView
	code, body := call(t, "POST", srv.URL+"/v1/acl/bootstrap", "", map[string]any{})
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	mgmt := tok.SecretID
	if code, body := call(t, "PUT", srv.URL+"/v1/acl/policy/reader", mgmt, api.PolicyRequest{Rules: "namespace \"default\" {\n  policy = \"read\"\n}\n"}); code != 200 {
		t.Fatalf("policy: %d %s", code, body)
	}
	code, body = call(t, "POST", srv.URL+"/v1/acl/token", mgmt, api.TokenRequest{Name: "reader", Policies: []string{"reader"}})
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	reader := tok.SecretID

	_, body = call(t, "GET", srv.URL+"/ui/jobs/web", mgmt, nil)
	row := regexp.MustCompile(`<tr class="deploy-group">\s*<td>g</td><td>3</td><td>2</td>\s*<td class="ok">1</td><td class="bad">1</td>\s*<td>1 of 1</td>\s*<td>no</td>`)
	if !strings.Contains(body, "Active deployment") || !row.MatchString(body) {
		t.Errorf("job page lacks the deployment's group row (desired 3, placed 2, healthy 1, unhealthy 1, canaries 1 of 1, not promoted):\n%s", body)
	}
	acts := actionsOn(body)
	if acts["deployment-promote"].url != "/v1/deployment/promote/"+d.ID || acts["deployment-fail"].url != "/v1/deployment/fail/"+d.ID {
		t.Errorf("deployment actions %v, want promote and fail of %s", acts, d.ID)
	}
	if !strings.Contains(body, `data-confirm="Fail deployment d0d0d0d0?`) {
		t.Errorf("failing a deployment asks for no confirmation")
	}
	_, body = call(t, "GET", srv.URL+"/ui/jobs/web", reader, nil)
	if !row.MatchString(body) || len(actionsOn(body)) != 0 {
		t.Errorf("a read-only token: deployment shown %v, actions %v (want the row, no actions)", row.MatchString(body), actionsOn(body))
	}
	if code, body := send(t, srv.URL, acts["deployment-fail"], reader, ""); code != http.StatusForbidden {
		t.Errorf("fail with a read-only token: HTTP %d %s, want 403", code, body)
	}

	d2 := *d
	d2.Status = structs.DeploymentSuccessful
	b.ds = []*structs.Deployment{&d2}
	if _, body := call(t, "GET", srv.URL+"/ui/jobs/web", mgmt, nil); !strings.Contains(body, "Latest deployment") || len(actionsOn(body)) != 1 {
		t.Errorf("a finished deployment: actions %v, want only the job's stop", actionsOn(body))
	}
}
