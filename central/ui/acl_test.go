package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/central/ui"
	"github.com/tether-edge/tether/jobspec"
)

// Allocation IDs of the two namespaces. Prefixes "a11c" and "b0b0" are
// shared across them; "c0c0" exists only in the hidden one.
const (
	allocWeb0    = "a11c0001-0000-4000-8000-000000000001"
	allocWeb1    = "b0b00001-0000-4000-8000-000000000001"
	allocWeb2    = "b0b00003-0000-4000-8000-000000000003"
	allocHidden0 = "a11c0002-0000-4000-8000-000000000002"
	allocHidden1 = "b0b00002-0000-4000-8000-000000000002"
	allocHidden2 = "c0c00002-0000-4000-8000-000000000002"
)

// hiddenMarks are strings that only objects of namespace hidden-ns carry:
// none may appear in anything a default-only token gets.
var hiddenMarks = []string{"hidden-ns", "vault", "10.66.66.66", "rotated-keys", "rotator",
	allocHidden0[:8], allocHidden1[:8], allocHidden2[:8]}

// call makes one request with token (none if empty) and returns the
// status and body.
func call(t *testing.T, method, url, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(api.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// twoNamespaces seeds jobs, allocations (with events) and services in
// namespaces default and hidden-ns on shared nodes, turns ACLs on and
// returns the server, the management secret and the secret of a token
// that may read only namespace default (and nodes and agents).
func twoNamespaces(t *testing.T) (b *apitest.Backend, srv *httptest.Server, mgmt, limited string) {
	t.Helper()
	b = apitest.New()
	b.PutNode(&structs.Node{ID: "node-0001", Name: "pi-kitchen", Datacenter: "dc1", Status: structs.NodeReady, Eligible: true, Drivers: []string{"exec", "wasm"}})
	b.PutNode(&structs.Node{ID: "node-0002", Name: "pi-cellar", Datacenter: "dc1", Status: structs.NodeReady, Eligible: true, Drivers: []string{"exec"}})
	for _, j := range []*jobspec.Job{
		{ID: "web", Namespace: "default", Type: "service", Datacenters: []string{"dc1"},
			TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 3, Tasks: []*jobspec.Task{{Name: "server", Driver: "exec"}}}}},
		{ID: "vault-sync", Namespace: "hidden-ns", Type: "service", Datacenters: []string{"dc1"},
			TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 3, Tasks: []*jobspec.Task{{Name: "rotator", Driver: "exec"}}}}},
	} {
		if _, _, err := b.SubmitJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	alloc := func(id, ns, job, task, node string, i int, event string) *structs.Allocation {
		return &structs.Allocation{ID: id, Name: job + ".g[" + string(rune('0'+i)) + "]", Namespace: ns, JobID: job, TaskGroup: "g",
			NodeID: node, NodeName: node, ClientStatus: "running", DesiredStatus: "run",
			Events: []structs.AllocEvent{{Type: "Reconnected", Time: 3e9, Message: event}},
			TaskStates: map[string]*structs.TaskState{task: {State: "running", StartedAt: 2e9,
				Events: []structs.TaskEvent{{Type: "Started", Time: 2e9, Message: event}}}}}
	}
	b.PutAlloc(
		alloc(allocWeb0, "default", "web", "server", "node-0001", 0, "web started"),
		alloc(allocWeb1, "default", "web", "server", "node-0001", 1, "web started"),
		alloc(allocWeb2, "default", "web", "server", "node-0001", 2, "web started"),
		alloc(allocHidden0, "hidden-ns", "vault-sync", "rotator", "node-0001", 0, "rotated-keys done"),
		alloc(allocHidden1, "hidden-ns", "vault-sync", "rotator", "node-0001", 1, "rotated-keys done"),
		alloc(allocHidden2, "hidden-ns", "vault-sync", "rotator", "node-0002", 2, "rotated-keys done"),
	)
	b.PutService(
		&structs.ServiceRegistration{ID: "svc-web", ServiceName: "web-api", Namespace: "default", NodeID: "node-0001", AllocID: allocWeb0,
			JobID: "web", Address: "10.0.0.5", Port: 8080, Healthy: true},
		&structs.ServiceRegistration{ID: "svc-vault", ServiceName: "vault-api", Namespace: "hidden-ns", NodeID: "node-0001", AllocID: allocHidden0,
			JobID: "vault-sync", Address: "10.66.66.66", Port: 8200, Healthy: true, Tags: []string{"vault"}},
	)
	srv = httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)

	b.ACL = true
	var tok acl.TokenView
	code, body := call(t, "POST", srv.URL+"/v1/acl/bootstrap", "", map[string]any{})
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	mgmt = tok.SecretID
	rules := "namespace \"default\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\nagent {\n  policy = \"read\"\n}\n"
	if code, body := call(t, "PUT", srv.URL+"/v1/acl/policy/default-reader", mgmt, api.PolicyRequest{Rules: rules}); code != 200 {
		t.Fatalf("policy: %d %s", code, body)
	}
	code, body = call(t, "POST", srv.URL+"/v1/acl/token", mgmt, api.TokenRequest{Name: "default-reader", Policies: []string{"default-reader"}})
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	return b, srv, mgmt, tok.SecretID
}

// liveAllocs reads the allocation count of node-0001 off the clients page.
var liveAllocs = regexp.MustCompile(`exec, wasm</td>\s*<td>(\d+)</td>`)

// TestNamespaceLimitedTokenSeesOneNamespace opens every UI page, and its
// live fragment, with a token that may read only namespace default: none
// shows anything of namespace hidden-ns, and the API answers alike.
func TestNamespaceLimitedTokenSeesOneNamespace(t *testing.T) {
	_, srv, mgmt, tok := twoNamespaces(t)
	tests := []struct {
		path string
		code int
		want []string
		// echoed: hidden marks the request itself names, which the
		// refusal may repeat (as the API's does)
		echoed []string
	}{
		{"/ui/servers", 200, []string{"server-1"}, nil},
		{"/ui/fleet", 200, []string{"Datacenters", "2 nodes"}, nil}, // node read; the fleet shows no allocation
		{"/ui/rollouts", 403, []string{"operator read"}, nil},       // as GET /v1/agent/rollouts
		{"/ui/rollouts/r0", 403, []string{"operator read"}, nil},
		{"/ui/clients", 200, []string{"pi-kitchen", "pi-cellar"}, nil},
		{"/ui/clients/node-0001", 200, []string{"pi-kitchen", allocWeb0, allocWeb2}, nil}, // default's allocations only
		{"/ui/clients/node-0002", 200, []string{"pi-cellar", "No allocations."}, nil},
		{"/ui/jobs", 200, []string{`href="/ui/jobs/web?namespace=default"`, "3 running"}, nil},
		{"/ui/jobs/web?namespace=default", 200, []string{"Job web", allocWeb0, allocWeb2}, nil},
		{"/ui/jobs/vault-sync?namespace=hidden-ns", 403, []string{`capability &#34;read-job&#34;`, "/ui/settings/tokens"}, []string{"hidden-ns", "vault"}},
		{"/ui/jobs/web?namespace=hidden-ns", 403, []string{"read-job"}, []string{"hidden-ns"}},
		{"/ui/jobs/vault-sync", 404, []string{"not found"}, []string{"vault"}},
		{"/ui/allocations/" + allocWeb0, 200, []string{"web.g[0]", "web started"}, nil},
		{"/ui/allocations/a11c", 200, []string{allocWeb0, "web started"}, nil}, // unique among what the token sees
		{"/ui/allocations/" + allocHidden0, 404, []string{"not found"}, []string{allocHidden0[:8]}},
		{"/ui/allocations/a11c0002", 404, []string{"not found"}, []string{allocHidden0[:8]}},
		{"/ui/allocations/c0c0", 404, []string{"not found"}, nil},
		// namespace read does not grant read-logs: refused as GET /v1/client/fs/logs is
		{"/ui/allocations/" + allocWeb0 + "/logs", 403, []string{`capability &#34;read-logs&#34;`}, nil},
		{"/ui/allocations/" + allocHidden0 + "/logs", 403, []string{`capability &#34;read-logs&#34;`}, []string{allocHidden0[:8]}},
		{"/ui/allocations/b0b0", 404, []string{"matches 2 allocations"}, nil},
		{"/ui/services", 200, []string{"web-api", "10.0.0.5:8080"}, nil},
		{"/ui/settings/tokens", 200, []string{"token-secret"}, nil},
	}
	// Every page the UI routes is opened here.
	mux, covered := http.NewServeMux(), map[string]bool{}
	for _, rt := range ui.Routes() {
		mux.Handle("GET "+rt.Pattern, http.NotFoundHandler())
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.path, nil)
		if _, pattern := mux.Handler(req); pattern != "" {
			covered[strings.TrimPrefix(pattern, "GET ")] = true
		}
	}
	for _, rt := range ui.Routes() {
		if !covered[rt.Pattern] {
			t.Errorf("UI page %s (%s) is not checked here: add it to the table", rt.Pattern, rt.Page)
		}
	}

	for _, tt := range tests {
		sep := "?"
		if strings.Contains(tt.path, "?") {
			sep = "&"
		}
		// The fragment is what the page's script asks for to stay live
		// (without an index, so it answers at once).
		for _, path := range []string{tt.path, tt.path + sep + "fragment=1"} {
			code, body := call(t, "GET", srv.URL+path, tok, nil)
			if code != tt.code {
				t.Errorf("%s: HTTP %d, want %d\n%s", path, code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: body lacks %q\n%s", path, w, body)
				}
			}
			for _, m := range hiddenMarks {
				if strings.Contains(body, m) && !slices.Contains(tt.echoed, m) {
					t.Errorf("%s: shows %q of namespace hidden-ns to a default-only token\n%s", path, m, body)
				}
			}
		}
	}
	if _, body := call(t, "GET", srv.URL+"/ui/clients", tok, nil); liveAllocs.FindStringSubmatch(body) == nil || liveAllocs.FindStringSubmatch(body)[1] != "3" {
		t.Errorf("clients page: pi-kitchen's allocation count is %v, want 3 (default's only)", liveAllocs.FindStringSubmatch(body))
	}

	// The management token sees both namespaces on the same pages: the
	// marks are there to be found.
	for _, c := range []struct{ path, want string }{
		{"/ui/jobs", `href="/ui/jobs/vault-sync?namespace=hidden-ns"`},
		{"/ui/jobs/vault-sync?namespace=hidden-ns", allocHidden1},
		{"/ui/allocations/" + allocHidden0, "rotated-keys done"},
		{"/ui/clients/node-0002", allocHidden2},
		{"/ui/allocations/" + allocHidden0 + "/logs", "/v1/client/fs/logs/" + allocHidden0},
		{"/ui/services", "10.66.66.66:8200"},
	} {
		if code, body := call(t, "GET", srv.URL+c.path, mgmt, nil); code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s with the management token: HTTP %d, want 200 showing %q\n%s", c.path, code, c.want, body)
		}
	}
	if _, body := call(t, "GET", srv.URL+"/ui/clients", mgmt, nil); liveAllocs.FindStringSubmatch(body) == nil || liveAllocs.FindStringSubmatch(body)[1] != "5" {
		t.Errorf("clients page with the management token: count %v, want 5", liveAllocs.FindStringSubmatch(body))
	}

	// The API gives the same token the same view.
	for _, c := range []struct {
		path string
		code int
	}{
		{"/v1/jobs?namespace=*", 200},
		{"/v1/allocations", 200},
		{"/v1/node/node-0001/allocations", 200},
		{"/v1/services?namespace=*", 200},
		{"/v1/service/web-api?namespace=*", 200},
		{"/v1/allocation/" + allocHidden0, 404},
		{"/v1/allocation/a11c", 200},
		{"/v1/allocation/c0c0", 404},
	} {
		code, body := call(t, "GET", srv.URL+c.path, tok, nil)
		if code != c.code {
			t.Errorf("API %s: HTTP %d, want %d\n%s", c.path, code, c.code, body)
		}
		for _, m := range hiddenMarks {
			if strings.Contains(body, m) && !(m == allocHidden0[:8] && strings.Contains(c.path, m)) {
				t.Errorf("API %s: shows %q of namespace hidden-ns\n%s", c.path, m, body)
			}
		}
	}
	if code, body := call(t, "GET", srv.URL+"/v1/job/vault-sync?namespace=hidden-ns", tok, nil); code != 403 {
		t.Errorf("API job in hidden-ns: HTTP %d, want 403 as on the UI\n%s", code, body)
	}
}

// TestAnonymousUIRevealsNoAllocationIDs asks for allocations by prefix
// without a token: no answer, from the UI or the API, names an ID.
func TestAnonymousUIRevealsNoAllocationIDs(t *testing.T) {
	_, srv, _, _ := twoNamespaces(t)
	ids := []string{allocWeb0, allocWeb1, allocWeb2, allocHidden0, allocHidden1, allocHidden2}
	prefixes := []string{"a", "b", "c", "0", "a11c", "b0b0", "b0b00002", allocHidden0}
	for _, p := range prefixes {
		for _, path := range []string{"/ui/allocations/" + p, "/ui/allocations/" + p + "?fragment=1&index=1",
			"/v1/allocation/" + p, "/v1/client/fs/logs/" + p, "/v1/allocations?prefix=" + p} {
			code, body := call(t, "GET", srv.URL+path, "", nil)
			if code != 403 && !(strings.HasPrefix(path, "/v1/allocations") && code == 200 && strings.TrimSpace(body) == "[]") {
				t.Errorf("anonymous %s: HTTP %d, want 403 (or an empty list)\n%s", path, code, body)
			}
			for _, id := range ids {
				if strings.Contains(body, id[:8]) && !strings.Contains(path, id[:8]) {
					t.Errorf("anonymous %s reveals allocation %s\n%s", path, id, body)
				}
			}
		}
	}
}

// A token with read-job and read-logs in namespace default only gets the
// log viewer of default's allocations; another namespace's allocation is
// "not found", by full ID or prefix, as on the allocation page.
func TestLogsPageLimitedToTokensNamespaces(t *testing.T) {
	_, srv, mgmt, _ := twoNamespaces(t)
	rules := "namespace \"default\" {\n  capabilities = [\"read-job\", \"read-logs\"]\n}\n"
	if code, body := call(t, "PUT", srv.URL+"/v1/acl/policy/default-logs", mgmt, api.PolicyRequest{Rules: rules}); code != 200 {
		t.Fatalf("policy: %d %s", code, body)
	}
	var tok acl.TokenView
	code, body := call(t, "POST", srv.URL+"/v1/acl/token", mgmt, api.TokenRequest{Name: "default-logs", Policies: []string{"default-logs"}})
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, body := call(t, "GET", srv.URL+"/ui/allocations/"+allocWeb0+"/logs", tok.SecretID, nil); code != 200 || !strings.Contains(body, "/v1/client/fs/logs/"+allocWeb0) {
		t.Errorf("logs page of default's allocation: HTTP %d\n%s", code, body)
	}
	for _, id := range []string{allocHidden0, "c0c0"} {
		code, body := call(t, "GET", srv.URL+"/ui/allocations/"+id+"/logs", tok.SecretID, nil)
		if code != 404 {
			t.Errorf("logs page of %s (namespace hidden-ns): HTTP %d, want 404\n%s", id, code, body)
		}
		for _, m := range hiddenMarks {
			if strings.Contains(body, m) && !strings.Contains(id, m) {
				t.Errorf("logs page of %s shows %q of namespace hidden-ns\n%s", id, m, body)
			}
		}
	}
}
