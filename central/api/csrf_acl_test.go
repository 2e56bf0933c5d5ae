package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
)

// TestCrossOriginWritesRefusedWithACLs is TestCrossOriginWritesRefused with
// ACLs on: a page of another origin (or another port of the same host,
// which is the same site) cannot make a write count even when the request
// carries a valid management token, in the header or in the UI's cookie.
func TestCrossOriginWritesRefusedWithACLs(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	mgmt := bootstrapped(t, base, b)
	host := strings.TrimPrefix(base, "http://")
	job, _ := json.Marshal(map[string]string{"hcl": webHCL})
	cookie := "Cookie: " + api.TokenCookie + "=" + mgmt
	header := api.TokenHeader + ": " + mgmt
	for _, tc := range []struct {
		name, headers, body string
		want                int
	}{
		{"text/plain with the UI's cookie from a page", "Content-Type: text/plain\n" + cookie + "\nOrigin: http://evil.example\nSec-Fetch-Site: cross-site", string(job), 403},
		{"text/plain with the UI's cookie, headers stripped", "Content-Type: text/plain\n" + cookie, string(job), 415},
		{"form with the UI's cookie", "Content-Type: application/x-www-form-urlencoded\n" + cookie, "hcl=job", 415},
		{"JSON with a token from another port", "Content-Type: application/json\n" + header + "\nOrigin: http://127.0.0.1:1", string(job), 403},
		{"JSON with the cookie from the same site", "Content-Type: application/json\n" + cookie + "\nSec-Fetch-Site: same-site", string(job), 403},
		{"JSON with a token, null origin", "Content-Type: application/json\n" + header + "\nOrigin: null", string(job), 403},
	} {
		code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(tc.body), tc.headers)
		if code != tc.want || !strings.Contains(body, "refused") {
			t.Errorf("%s: %d %s, want %d saying what was refused", tc.name, code, body, tc.want)
		}
	}
	// A bodyless write (no content type to check) from a page, with the token.
	if code, body := send(t, base, "DELETE", "/v1/job/web", nil, header+"\nOrigin: http://evil.example\nSec-Fetch-Site: cross-site"); code != 403 {
		t.Errorf("cross-origin DELETE with a token: %d %s, want 403", code, body)
	}
	if jobs := b.State().Jobs(""); len(jobs) != 0 {
		t.Fatalf("a refused request stored job %s", jobs[0].ID)
	}
	// The same token from the same origin, or from a script, still works.
	for _, headers := range []string{
		"Content-Type: application/json\n" + header,
		"Content-Type: application/json\n" + header + "\nOrigin: http://" + host + "\nSec-Fetch-Site: same-origin",
	} {
		if code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(string(job)), headers); code != 200 {
			t.Fatalf("submit with %q: %d %s", headers, code, body)
		}
	}
}
