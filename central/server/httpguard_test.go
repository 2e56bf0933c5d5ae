package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPHardeningWired checks that central's own HTTP server (not only
// the API handler) refuses cross-origin writes and anonymous submissions
// before parsing, and answers after a submission that nests too deeply.
func TestHTTPHardeningWired(t *testing.T) {
	deep, _ := json.Marshal(map[string]string{"hcl": "job \"x\" {\n  meta = { a = " + strings.Repeat("[", 100_000) + " }\n}\n"})
	post := func(s *Server, path, ctype, origin, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.HTTPURL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	leaderAnswers := func(s *Server) {
		t.Helper()
		resp, err := http.Get(s.HTTPURL() + "/v1/status/leader")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("central no longer answers: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	open := testServerWith(t, func(*Config) {})
	if code, body := post(open, "/v1/jobs", "text/plain", "http://evil.example", `{"hcl": "job \"x\" {}"}`); code != http.StatusForbidden {
		t.Errorf("cross-origin text/plain submission: %d %s, want 403", code, body)
	}
	if code, body := post(open, "/v1/security/join-token", "text/plain", "http://evil.example", ""); code != http.StatusForbidden {
		t.Errorf("cross-origin join token: %d %s, want 403", code, body)
	}
	if code, body := post(open, "/v1/jobs", "application/json", "", string(deep)); code != http.StatusBadRequest || !strings.Contains(body, "nested more than") {
		t.Errorf("deep submission with ACLs off: %d %s, want 400", code, body)
	}
	leaderAnswers(open)

	acl := testServerWith(t, func(c *Config) { c.ACL = true })
	if code, body := post(acl, "/v1/jobs", "application/json", "", string(deep)); code != http.StatusForbidden {
		t.Errorf("anonymous deep submission with ACLs on: %d %s, want 403", code, body)
	}
	leaderAnswers(acl)
}
