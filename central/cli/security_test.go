package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestJoinTokenVerbs runs the join token verbs against a fake of central's
// security endpoints and checks the requests and the output.
func TestJoinTokenVerbs(t *testing.T) {
	var mu sync.Mutex
	var got []string // method path?query of each request
	created := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC).UnixMilli()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/security/join-token":
			ans := map[string]any{"secret": "s3cret", "accessor": "acc1"}
			if r.URL.Query().Get("ttl") != "" {
				ans["expires"] = created + 86400000
			}
			json.NewEncoder(w).Encode(ans)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/security/join-tokens":
			json.NewEncoder(w).Encode([]map[string]any{
				{"accessor": "acc1", "description": "kitchen Pis", "created": created, "expires": created + 1000, "uses": 3},
				{"accessor": "acc2", "created": created, "uses": 0},
			})
		case r.Method == http.MethodDelete && r.URL.Path == "/v1/security/join-token/acc1":
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": "join-token delete: no join token with accessor nope"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	env := func(k string) string {
		if k == "CENTRAL_ADDR" {
			return srv.URL
		}
		return ""
	}
	run := func(args ...string) (int, string) {
		var out, errOut syncBuffer
		code := Run(args, &out, &errOut, env)
		return code, out.String() + errOut.String()
	}
	for _, tc := range []struct {
		args    []string
		code    int
		want    []string // in the output
		request string   // the request sent ("" none)
	}{
		{[]string{"node", "join-token", "create", "-description", "kitchen Pis", "-ttl", "24h"}, 0,
			[]string{"Join token: s3cret", "Accessor:   acc1", "agent -join-token-file /etc/tether/join-token -central "}, "POST /v1/security/join-token?description=kitchen+Pis&ttl=24h0m0s"},
		{[]string{"node", "join-token", "create"}, 0, []string{"Expires:    never"}, "POST /v1/security/join-token?description="},
		{[]string{"node", "join-token", "create", "-ttl", "-1h"}, exitUsage, []string{"negative"}, ""},
		{[]string{"node", "join-token", "list"}, 0,
			[]string{"Accessor", "Uses", "kitchen Pis", "(expired)", "never", "acc2"}, "GET /v1/security/join-tokens"},
		{[]string{"node", "join-token", "delete", "acc1"}, 0, []string{"acc1 deleted"}, "DELETE /v1/security/join-token/acc1"},
		{[]string{"node", "join-token", "delete", "nope"}, 1, []string{"no join token with accessor nope"}, "DELETE /v1/security/join-token/nope"},
		{[]string{"node", "join-token", "delete"}, exitUsage, nil, ""},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		code, out := run(tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d:\n%s", tc.args, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		mu.Lock()
		if tc.request == "" && len(got) != 0 || tc.request != "" && (len(got) != 1 || got[0] != tc.request) {
			t.Errorf("%v: requests %q, want %q", tc.args, got, tc.request)
		}
		mu.Unlock()
	}
}
