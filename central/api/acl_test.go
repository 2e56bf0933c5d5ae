package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

// tutorialPolicy is the edge tutorial's nomad-acl-user.hcl.
const tutorialPolicy = `agent {
  policy = "read"
}

node {
  policy = "read"
}

namespace "*" {
  policy       = "read"
  capabilities = ["submit-job", "dispatch-job", "read-logs"]
}
`

func doTok(t *testing.T, srv *httptest.Server, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(api.TokenHeader, token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: b}
}

// aclServer seeds a node, job "web" and its allocs, then turns ACLs on and
// bootstraps; it returns the management secret.
func aclServer(t *testing.T) (*apitest.Backend, *httptest.Server, string) {
	t.Helper()
	b, srv := newTestServer(t)
	seed(t, b, srv)
	b.ACL = true
	r := doTok(t, srv, "POST", "/v1/acl/bootstrap", "", nil)
	if r.code != 200 {
		t.Fatalf("bootstrap: %d %s", r.code, r.body)
	}
	tok := decode[acl.TokenView](t, r)
	if tok.SecretID == "" || tok.AccessorID == "" || tok.Type != acl.TypeManagement {
		t.Fatalf("bootstrap token: %+v", tok)
	}
	return b, srv, tok.SecretID
}

func clientToken(t *testing.T, srv *httptest.Server, mgmt string) string {
	t.Helper()
	if r := doTok(t, srv, "PUT", "/v1/acl/policy/node-read-job-submit", mgmt, api.PolicyRequest{Description: "tutorial", Rules: tutorialPolicy}); r.code != 200 {
		t.Fatalf("policy apply: %d %s", r.code, r.body)
	}
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "read-token", Policies: []string{"node-read-job-submit"}})
	if r.code != 200 {
		t.Fatalf("token create: %d %s", r.code, r.body)
	}
	return decode[acl.TokenView](t, r).SecretID
}

func TestACLDeniesWithoutToken(t *testing.T) {
	_, srv, _ := aclServer(t)
	for _, tc := range []struct {
		method, path, token, want string
	}{
		{"GET", "/v1/jobs", "", `capability "list-jobs" in namespace "default"`},
		{"GET", "/v1/jobs?namespace=*", "", `capability "list-jobs" in any namespace`},
		{"POST", "/v1/jobs", "", `capability "submit-job" in any namespace`},
		{"GET", "/v1/job/web", "", `capability "read-job" in namespace "default"`},
		{"DELETE", "/v1/job/web", "", `capability "submit-job"`},
		{"GET", "/v1/nodes", "", "node read"},
		{"POST", "/v1/node/aaaa1111-0000-0000-0000-000000000001/drain", "", "node write"},
		{"GET", "/v1/agent/members", "", "agent read"},
		{"GET", "/v1/agent/self", "", "agent read"},
		{"GET", "/v1/allocation/bbbb0001", "", `capability "read-job"`},
		{"GET", "/v1/client/fs/logs/bbbb0001", "", `capability "read-logs"`},
		{"GET", "/v1/services", "", `capability "read-job"`},
		{"GET", "/v1/acl/tokens", "", "management"},
		{"GET", "/v1/jobs", "not-a-secret", "matches no token"},
	} {
		var body any
		if tc.method == "POST" && tc.path == "/v1/jobs" {
			body = map[string]any{"hcl": webHCL}
		}
		if strings.HasSuffix(tc.path, "/drain") {
			body = api.DrainRequest{Enable: true}
		}
		r := doTok(t, srv, tc.method, tc.path, tc.token, body)
		if r.code != http.StatusForbidden {
			t.Errorf("%s %s: %d %s, want 403", tc.method, tc.path, r.code, r.body)
			continue
		}
		msg := errorOf(t, r)
		if !strings.HasPrefix(msg, "Permission denied") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s: %q, want it to name %q", tc.method, tc.path, msg, tc.want)
		}
		if tc.token == "" && !strings.Contains(msg, "CENTRAL_TOKEN") {
			t.Errorf("%s %s: %q does not say how to send a token", tc.method, tc.path, msg)
		}
	}
	// Open endpoints stay open.
	for _, p := range []string{"/v1/status/leader", "/v1/metrics"} {
		if r := doTok(t, srv, "GET", p, "", nil); r.code != 200 {
			t.Errorf("GET %s without token: %d %s, want 200", p, r.code, r.body)
		}
	}
}

func TestACLTutorialToken(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	tok := clientToken(t, srv, mgmt)
	ok := []struct{ method, path string }{
		{"GET", "/v1/jobs"}, {"GET", "/v1/jobs?namespace=*"}, {"GET", "/v1/job/web"}, {"GET", "/v1/job/web/allocations"},
		{"GET", "/v1/nodes"}, {"GET", "/v1/node/aaaa1111-0000-0000-0000-000000000001"}, {"GET", "/v1/agent/members"},
		{"GET", "/v1/allocation/bbbb0001"}, {"GET", "/v1/allocations"}, {"GET", "/v1/services"}, {"GET", "/v1/acl/token/self"},
		{"GET", "/v1/acl/policy/node-read-job-submit"},
	}
	for _, c := range ok {
		if r := doTok(t, srv, c.method, c.path, tok, nil); r.code != 200 {
			t.Errorf("%s %s: %d %s, want 200", c.method, c.path, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "POST", "/v1/jobs", tok, map[string]any{"hcl": webHCL}); r.code != 200 {
		t.Errorf("submit with the tutorial token: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "POST", "/v1/jobs?namespace=prod", tok, map[string]any{"hcl": webHCL}); r.code != 200 {
		t.Errorf("submit in another namespace (\"*\" glob): %d %s", r.code, r.body)
	}
	denied := []struct{ method, path, want string }{
		{"POST", "/v1/node/aaaa1111-0000-0000-0000-000000000001/drain", "node write"},
		{"POST", "/v1/node/aaaa1111-0000-0000-0000-000000000001/eligibility", "node write"},
		{"GET", "/v1/acl/tokens", "management"},
		{"POST", "/v1/acl/token", "management"},
		{"PUT", "/v1/acl/policy/x", "management"},
	}
	for _, c := range denied {
		r := doTok(t, srv, c.method, c.path, tok, map[string]any{})
		if r.code != 403 || !strings.Contains(errorOf(t, r), c.want) || !strings.Contains(errorOf(t, r), `token "read-token" lacks`) {
			t.Errorf("%s %s: %d %s, want 403 naming %q and the token", c.method, c.path, r.code, r.body, c.want)
		}
	}
	// The management token may drain.
	if r := doTok(t, srv, "POST", "/v1/node/aaaa1111-0000-0000-0000-000000000001/drain", mgmt, api.DrainRequest{Enable: true}); r.code != 200 {
		t.Errorf("drain with management token: %d %s", r.code, r.body)
	}
	// Secrets are stored hashed only, and never listed.
	list := doTok(t, srv, "GET", "/v1/acl/tokens", mgmt, nil)
	if list.code != 200 || bytes.Contains(list.body, []byte(tok)) || bytes.Contains(list.body, []byte(mgmt)) {
		t.Errorf("token list: %d, leaks a secret: %s", list.code, list.body)
	}
	for _, st := range b.ACLState().ACLTokens() {
		if st.SecretHash == tok || st.SecretHash == mgmt || len(st.SecretHash) != 64 {
			t.Errorf("token %s stores %q, want a sha256", st.AccessorID, st.SecretHash)
		}
	}
}

func TestACLNamespaceFiltering(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	b.PutAlloc(&structs.Allocation{ID: "cccc0001-0000-0000-0000-000000000001", Namespace: "secret", JobID: "hidden",
		NodeID: "aaaa1111-0000-0000-0000-000000000001", DesiredStatus: "run", ClientStatus: "running"})
	if r := doTok(t, srv, "POST", "/v1/jobs?namespace=secret", mgmt, map[string]any{"hcl": webHCL}); r.code != 200 {
		t.Fatalf("submit in secret: %d %s", r.code, r.body)
	}
	doTok(t, srv, "PUT", "/v1/acl/policy/default-only", mgmt, api.PolicyRequest{Rules: `namespace "default" { policy = "read" }
node { policy = "read" }`})
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "d", Policies: []string{"default-only"}})
	tok := decode[acl.TokenView](t, r).SecretID

	jobs := decode[[]api.JobListEntry](t, doTok(t, srv, "GET", "/v1/jobs?namespace=*", tok, nil))
	for _, j := range jobs {
		if j.Namespace != "default" {
			t.Errorf("job list shows %s/%s to a default-only token", j.Namespace, j.ID)
		}
	}
	if len(jobs) != 1 {
		t.Errorf("job list: %d jobs, want 1 (web in default)", len(jobs))
	}
	for _, path := range []string{"/v1/allocations", "/v1/node/aaaa1111-0000-0000-0000-000000000001/allocations"} {
		for _, a := range decode[[]structs.Allocation](t, doTok(t, srv, "GET", path, tok, nil)) {
			if a.Namespace != "default" {
				t.Errorf("%s shows alloc %s of namespace %s", path, a.ID, a.Namespace)
			}
		}
	}
	// An allocation the token may not read is answered like one that does
	// not exist, by prefix or by full ID; the management token finds it.
	for _, id := range []string{"cccc0001", "cccc0001-0000-0000-0000-000000000001"} {
		if r := doTok(t, srv, "GET", "/v1/allocation/"+id, tok, nil); r.code != 404 || bytes.Contains(r.body, []byte("secret")) {
			t.Errorf("alloc %s in secret: %d %s, want 404 as for a missing one", id, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "GET", "/v1/allocation/cccc0001", mgmt, nil); r.code != 200 {
		t.Errorf("alloc in secret with the management token: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/job/web?namespace=secret", tok, nil); r.code != 403 {
		t.Errorf("job in secret: %d %s", r.code, r.body)
	}
	// Without ?namespace= the check before parsing is submit-job in any
	// namespace; with it, in that one; a job in another one is refused.
	if r := doTok(t, srv, "POST", "/v1/jobs", tok, map[string]any{"hcl": webHCL}); r.code != 403 || !strings.Contains(errorOf(t, r), `"submit-job" in any namespace`) {
		t.Errorf("submit with a read-only token: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "POST", "/v1/jobs?namespace=default", tok, map[string]any{"hcl": webHCL}); r.code != 403 || !strings.Contains(errorOf(t, r), `"submit-job" in namespace "default"`) {
		t.Errorf("submit with a read-only token: %d %s", r.code, r.body)
	}
}

func TestACLBootstrapOnceAndReset(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	r := doTok(t, srv, "POST", "/v1/acl/bootstrap", "", nil)
	if r.code != 400 || !strings.Contains(errorOf(t, r), "ACL bootstrap already done (reset index: ") {
		t.Fatalf("second bootstrap: %d %s", r.code, r.body)
	}
	b.SetACLResetIndex(b.ACLState().ACLBootstrapIndex())
	r = doTok(t, srv, "POST", "/v1/acl/bootstrap", "", nil)
	if r.code != 200 {
		t.Fatalf("bootstrap with the reset index: %d %s", r.code, r.body)
	}
	second := decode[acl.TokenView](t, r).SecretID
	if second == mgmt {
		t.Fatal("reset bootstrap returned the old secret")
	}
	if r := doTok(t, srv, "GET", "/v1/acl/tokens", second, nil); r.code != 200 {
		t.Errorf("new bootstrap token: %d %s", r.code, r.body)
	}
}

func TestACLPolicyAndTokenCRUD(t *testing.T) {
	_, srv, mgmt := aclServer(t)
	r := doTok(t, srv, "PUT", "/v1/acl/policy/bad", mgmt, api.PolicyRequest{Rules: "namespace \"*\" {\n  policy = \"admin\"\n}"})
	if r.code != 400 || !strings.Contains(errorOf(t, r), "bad:2") {
		t.Errorf("bad policy: %d %s, want 400 with file:line", r.code, r.body)
	}
	tok := clientToken(t, srv, mgmt)
	pols := decode[[]api.PolicyListEntry](t, doTok(t, srv, "GET", "/v1/acl/policies", mgmt, nil))
	if len(pols) != 1 || pols[0].Name != "node-read-job-submit" || pols[0].Description != "tutorial" {
		t.Errorf("policies: %+v", pols)
	}
	self := decode[acl.TokenView](t, doTok(t, srv, "GET", "/v1/acl/token/self", tok, nil))
	if r := doTok(t, srv, "GET", "/v1/acl/token/"+self.AccessorID, mgmt, nil); r.code != 200 || decode[acl.TokenView](t, r).SecretID != "" {
		t.Errorf("token info: %d %s (must not show the secret)", r.code, r.body)
	}
	if r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "x", Policies: []string{"nope"}}); r.code != 404 || !strings.Contains(errorOf(t, r), `"nope"`) {
		t.Errorf("token with a missing policy: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "x"}); r.code != 400 {
		t.Errorf("client token without policy: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "DELETE", "/v1/acl/token/"+self.AccessorID, mgmt, nil); r.code != 200 {
		t.Errorf("token delete: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/jobs", tok, nil); r.code != 403 || !strings.Contains(errorOf(t, r), "matches no token") {
		t.Errorf("deleted token still works: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "DELETE", "/v1/acl/policy/node-read-job-submit", mgmt, nil); r.code != 200 {
		t.Errorf("policy delete: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "DELETE", "/v1/acl/policy/node-read-job-submit", mgmt, nil); r.code != 404 {
		t.Errorf("policy delete again: %d %s", r.code, r.body)
	}
}

func TestACLTokenExpires(t *testing.T) {
	_, srv, mgmt := aclServer(t)
	doTok(t, srv, "PUT", "/v1/acl/policy/p", mgmt, api.PolicyRequest{Rules: tutorialPolicy})
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "short", Policies: []string{"p"}, ExpirationTTL: "50ms"})
	v := decode[acl.TokenView](t, r)
	if v.ExpirationTime == nil {
		t.Fatalf("token with a TTL has no expiration: %s", r.body)
	}
	eventually(t, 5*time.Second, func() error {
		r := doTok(t, srv, "GET", "/v1/jobs", v.SecretID, nil)
		if r.code == 403 && strings.Contains(errorOf(t, r), "expired") {
			return nil
		}
		return fmt.Errorf("token still accepted: %d %s", r.code, r.body)
	})
}

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestACLDisabled(t *testing.T) {
	_, srv := newTestServer(t)
	if r := doTok(t, srv, "POST", "/v1/acl/bootstrap", "", nil); r.code != 400 || !strings.Contains(errorOf(t, r), "-acl") {
		t.Errorf("bootstrap with ACLs off: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/jobs", "anything", nil); r.code != 200 {
		t.Errorf("ACLs off: %d %s, want everything allowed", r.code, r.body)
	}
}

func TestACLGuardsUI(t *testing.T) {
	_, srv, mgmt := aclServer(t)
	if r := doTok(t, srv, "GET", "/ui/jobs", "", nil); r.code != 403 || !bytes.Contains(r.body, []byte("/ui/settings/tokens")) {
		t.Errorf("/ui/jobs without token: %d %s", r.code, r.body)
	}
	for _, p := range []string{"/ui/settings/tokens", "/ui/static/app.js"} {
		if r := doTok(t, srv, "GET", p, "", nil); r.code != 200 {
			t.Errorf("%s without token: %d, want open", p, r.code)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/ui/jobs", nil)
	req.AddCookie(&http.Cookie{Name: api.TokenCookie, Value: mgmt})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/ui/jobs with the token cookie: %d", resp.StatusCode)
	}
}
