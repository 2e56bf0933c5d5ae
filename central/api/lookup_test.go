package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
)

// TestAllocPrefixLookupSeesOnlyReadable: an allocation ID prefix is
// resolved among the allocations the request may see, anonymous ones
// included; an ambiguous prefix lists only those.
func TestAllocPrefixLookupSeesOnlyReadable(t *testing.T) {
	b, srv, mgmt := aclServer(t) // bbbb0001 and bbbb0002 in default
	const hidden = "bbbb0003-0000-0000-0000-000000000003"
	b.PutAlloc(&structs.Allocation{ID: hidden, Namespace: "secret", JobID: "vault", TaskGroup: "g",
		NodeID: "aaaa1111-0000-0000-0000-000000000001", DesiredStatus: "run", ClientStatus: "running"})

	// Without an anonymous policy nothing is looked up at all.
	for _, path := range []string{"/v1/allocation/b", "/v1/allocation/bbbb", "/v1/client/fs/logs/bbbb"} {
		r := doTok(t, srv, "GET", path, "", nil)
		if r.code != http.StatusForbidden || strings.Contains(string(r.body), "bbbb000") {
			t.Errorf("anonymous %s: %d %s, want 403 naming no allocation", path, r.code, r.body)
		}
	}

	// An anonymous policy that reads namespace default: the prefix is
	// ambiguous among default's two allocations only.
	if r := doTok(t, srv, "PUT", "/v1/acl/policy/anonymous", mgmt, api.PolicyRequest{Rules: `namespace "default" { policy = "read" }`}); r.code != 200 {
		t.Fatalf("anonymous policy: %d %s", r.code, r.body)
	}
	for _, path := range []string{"/v1/allocation/bbbb", "/v1/client/fs/logs/bbbb"} {
		r := doTok(t, srv, "GET", path, "", nil)
		msg := errorOf(t, r)
		if r.code != 400 || !strings.Contains(msg, "matches 2 allocations") || !strings.Contains(msg, "bbbb0001") || strings.Contains(msg, "bbbb0003") {
			t.Errorf("anonymous %s: %d %s, want 400 listing bbbb0001 and bbbb0002 only", path, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "GET", "/v1/allocation/"+hidden, "", nil); r.code != 404 || strings.Contains(string(r.body), "secret") {
		t.Errorf("anonymous full ID in secret: %d %s, want 404 as for a missing one", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/allocation/bbbb0003", mgmt, nil); r.code != 200 {
		t.Errorf("management token, bbbb0003: %d %s", r.code, r.body)
	}
	// Evaluations: one in a namespace the request may not read is missing too.
	b.PutEval(&structs.Evaluation{ID: "eeee0003-0000-0000-0000-000000000003", Namespace: "secret", JobID: "vault"})
	for _, path := range []string{"/v1/evaluation/eeee0003-0000-0000-0000-000000000003", "/v1/evaluation/eeee0003-0000-0000-0000-000000000003/allocations"} {
		if r := doTok(t, srv, "GET", path, "", nil); r.code != 404 || strings.Contains(string(r.body), "secret") {
			t.Errorf("anonymous %s: %d %s, want 404 as for a missing one", path, r.code, r.body)
		}
		if r := doTok(t, srv, "GET", path, mgmt, nil); r.code != 200 {
			t.Errorf("management token, %s: %d %s", path, r.code, r.body)
		}
	}
	// The logs endpoint finds what the request may read or read logs of,
	// and then needs read-logs: anonymous may read default but not its logs.
	if r := doTok(t, srv, "GET", "/v1/client/fs/logs/bbbb0001", "", nil); r.code != 403 || !strings.Contains(errorOf(t, r), `"read-logs" in namespace "default"`) {
		t.Errorf("anonymous logs of bbbb0001: %d %s, want 403 naming read-logs", r.code, r.body)
	}

	// A token that may only read logs in secret: bbbb is unique to it.
	doTok(t, srv, "PUT", "/v1/acl/policy/secret-logs", mgmt, api.PolicyRequest{Rules: `namespace "secret" { capabilities = ["read-logs"] }`})
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "logs", Policies: []string{"secret-logs"}})
	logs := decode[acl.TokenView](t, r).SecretID
	if r := doTok(t, srv, "GET", "/v1/client/fs/logs/bbbb", logs, nil); !strings.Contains(string(r.body), hidden) || strings.Contains(string(r.body), "bbbb0001") {
		t.Errorf("logs of bbbb with read-logs in secret: %d %s, want bbbb0003 found (it has no task to name)", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/allocation/bbbb", logs, nil); r.code != 403 || strings.Contains(string(r.body), "bbbb000") {
		t.Errorf("alloc bbbb with only read-logs: %d %s, want 403 (read-job in no namespace)", r.code, r.body)
	}
}

// Evaluation IDs take a unique prefix too (`eval status` is given the
// short IDs the CLI prints), resolved among the evaluations the request
// may read: an ambiguous prefix lists only those.
func TestEvalPrefixLookupSeesOnlyReadable(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	for i, ns := range []string{"default", "default", "secret"} {
		b.PutEval(&structs.Evaluation{ID: fmt.Sprintf("e7e70%03d-0000-0000-0000-000000000000", i+1), Namespace: ns, JobID: "j"})
	}
	if r := doTok(t, srv, "PUT", "/v1/acl/policy/anonymous", mgmt, api.PolicyRequest{Rules: `namespace "default" { policy = "read" }`}); r.code != 200 {
		t.Fatalf("anonymous policy: %d %s", r.code, r.body)
	}
	for _, tc := range []struct {
		path, token string
		code        int
		want, not   string
	}{
		{"/v1/evaluation/e7e70001", "", 200, `"e7e70001-0000`, ""},
		{"/v1/evaluation/e7e70001/allocations", "", 200, "[]", ""},
		{"/v1/evaluation/e7e7", "", 400, "matches 2 evaluations: e7e70001-0000-0000-0000-000000000000, e7e70002", "e7e70003"},
		{"/v1/evaluation/e7e70003", "", 404, `evaluation \"e7e70003\" not found`, "secret"},
		{"/v1/evaluation/e7e70003", mgmt, 200, `"e7e70003-0000`, ""},
		{"/v1/evaluation/e7e7", mgmt, 400, "matches 3 evaluations", ""},
	} {
		r := doTok(t, srv, "GET", tc.path, tc.token, nil)
		if r.code != tc.code || !strings.Contains(string(r.body), tc.want) || tc.not != "" && strings.Contains(string(r.body), tc.not) {
			t.Errorf("GET %s (token %v): %d %s, want %d with %q", tc.path, tc.token != "", r.code, r.body, tc.code, tc.want)
		}
	}
}

// ACL token accessors take a unique prefix (acl token info/delete).
func TestACLTokenAccessorPrefix(t *testing.T) {
	_, srv, mgmt := aclServer(t)
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "short", Type: "management"})
	acc := decode[acl.TokenView](t, r).AccessorID
	if r := doTok(t, srv, "GET", "/v1/acl/token/"+acc[:8], mgmt, nil); r.code != 200 || decode[acl.TokenView](t, r).AccessorID != acc {
		t.Fatalf("GET by prefix %s: %d %s", acc[:8], r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/acl/token/zzzz", mgmt, nil); r.code != 404 || !strings.Contains(errorOf(t, r), "central acl token list") {
		t.Errorf("unknown prefix: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "DELETE", "/v1/acl/token/"+acc[:8], mgmt, nil); r.code != 200 {
		t.Fatalf("DELETE by prefix: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/acl/token/"+acc, mgmt, nil); r.code != 404 {
		t.Errorf("deleted token: %d %s", r.code, r.body)
	}
}

func TestMatchID(t *testing.T) {
	ids := []string{"abcd1", "abce2", "abc", "x"}
	for _, tc := range []struct {
		id, match string
		all       []string
	}{
		{"abc", "abc", nil}, // an exact ID wins over the IDs it prefixes
		{"abcd", "abcd1", nil},
		{"ab", "", []string{"abc", "abcd1", "abce2"}},
		{"y", "", nil},
		{"", "", nil},
	} {
		match, all := api.MatchID(tc.id, ids)
		if match != tc.match || fmt.Sprint(all) != fmt.Sprint(tc.all) {
			t.Errorf("MatchID(%q) = %q %v, want %q %v", tc.id, match, all, tc.match, tc.all)
		}
	}
}

// A service instance ID takes a unique prefix too (service delete), among
// the instances of that service in the namespace.
func TestServiceDeleteTakesPrefix(t *testing.T) {
	b, srv := newTestServer(t)
	seedServices(b)
	if r := do(t, srv, "DELETE", "/v1/service/api/_tether-a", nil); r.code != 400 || !strings.Contains(errorOf(t, r), "matches 3 instance") {
		t.Errorf("ambiguous prefix: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "DELETE", "/v1/service/api/_tether-o1", nil); r.code != 404 {
		t.Errorf("prefix of an instance in another namespace: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "DELETE", "/v1/service/api/_tether-a2", nil); r.code != 200 || !strings.Contains(string(r.body), structs.ServiceID("a2", "server", "api", "http")) {
		t.Fatalf("delete by prefix: %d %s", r.code, r.body)
	}
	if n := len(b.ServiceByName("default", "api")); n != 2 {
		t.Errorf("%d api instances left, want 2", n)
	}
}
