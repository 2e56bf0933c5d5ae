package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDebugProfiles checks /debug/pprof/: absent without enable_debug;
// with it and ACLs off, served to loopback clients; with ACLs on, refused
// without a token and served with the management token.
func TestDebugProfiles(t *testing.T) {
	off := testServerWith(t, func(c *Config) {})
	if code, body := aclReq(t, off, "GET", "/debug/pprof/cmdline", ""); code == 200 {
		t.Errorf("profiles served without enable_debug: %d %.100s", code, body)
	}
	open := testServerWith(t, func(c *Config) { c.EnableDebug = true })
	if code, body := aclReq(t, open, "GET", "/debug/pprof/cmdline", ""); code != 200 {
		t.Errorf("cmdline with enable_debug from loopback: %d %.200s", code, body)
	}
	if code, body := aclReq(t, open, "GET", "/debug/pprof/heap?debug=1", ""); code != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("heap with enable_debug from loopback: %d %.200s", code, body)
	}
	acl := testServerWith(t, func(c *Config) { c.EnableDebug, c.ACL = true, true })
	code, body := aclReq(t, acl, "POST", "/v1/acl/bootstrap", "")
	if code != 200 {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	var tok struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &tok)
	if code, body := aclReq(t, acl, "GET", "/debug/pprof/heap", ""); code != 403 || !strings.Contains(body, "operator") {
		t.Errorf("heap without a token, ACLs on: %d %.200s, want 403 naming operator", code, body)
	}
	if code, body := aclReq(t, acl, "GET", "/debug/pprof/cmdline", tok.SecretID); code != 200 {
		t.Errorf("cmdline with the management token: %d %.200s", code, body)
	}
	if loopbackClient(mustRequest("203.0.113.9:5000")) {
		t.Error("a remote address taken for loopback")
	}
	if !loopbackClient(mustRequest("[::1]:5000")) || !loopbackClient(mustRequest("127.0.0.1:5000")) {
		t.Error("a loopback address not taken for loopback")
	}
}

func mustRequest(remote string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x/debug/pprof/", nil)
	r.RemoteAddr = remote
	return r
}
