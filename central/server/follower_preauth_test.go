package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// heldBackRequest sends method path to base with a body of which only the
// first KB ever comes (the header announces all of it), and returns the
// answer, or fails the test when none arrives within 30 s: a server that
// reads the body before it checks the token waits for ever.
func heldBackRequest(t *testing.T, base, method, path, ctype string, body []byte) (int, string) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest(method, base+path, pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ctype)
	go pw.Write(body[:1024]) // the rest never comes
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("%s %s with the body held back: %v", method, path, r.err)
		}
		return r.code, r.body
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: no answer while the body is held back: the server reads the body before it checks the token", method, path)
	}
	return 0, ""
}

// TestFollowerRefusesBeforeReadingBodies is issue 22's item 2 through a
// follower, with ACLs on: an anonymous request to a follower must be
// refused before its body is read, as on the leader, for a job submission
// (100,000 nested "[", which used to crash each leader in turn) and for
// any other write (a follower used to buffer up to 64 MiB of a snapshot
// restore, or 8 MiB of any write, before the leader checked the token; and
// the operator endpoints, on the leader too, waited for the body before
// sending their refusal).
// With a token, the leader's parser bounds still answer through the
// follower, and every server keeps answering.
func TestFollowerRefusesBeforeReadingBodies(t *testing.T) {
	// ACLs on: servers join each other with the join secret.
	servers := authCluster(t, 3, func(c *Config) { c.ACL, c.JoinSecret = true, "a join secret of this cluster, long enough" })
	leader := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	code, body := aclReq(t, leader, "POST", "/v1/acl/bootstrap", "")
	var tok struct {
		SecretID string `json:"secret_id"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	base := "http://" + follower.HTTPAddr()
	deep, _ := json.Marshal(map[string]string{"hcl": "job \"x\" {\n  meta = { a = " + strings.Repeat("[", 100_000) + " }\n}\n"})

	for _, c := range []struct {
		method, path, ctype string
		body                []byte
		want                string
	}{
		{"POST", "/v1/jobs", "application/json", deep, "submit-job"},
		{"POST", "/v1/job/x/plan", "application/json", deep, "submit-job"}, // plan.go: submit-job, as Nomad's
		{"PUT", "/v1/operator/snapshot", "application/octet-stream", make([]byte, 50<<20), "operator"},
		{"POST", "/v1/acl/token", "application/json", []byte(`{"name": "` + strings.Repeat("x", 4<<20) + `"}`), ""},
		{"POST", "/v1/security/join-token", "application/json", []byte(`{"description": "` + strings.Repeat("x", 4<<20) + `"}`), "operator"},
	} {
		for _, s := range []*Server{follower, leader} {
			code, body := heldBackRequest(t, "http://"+s.HTTPAddr(), c.method, c.path, c.ctype, c.body)
			if code != http.StatusForbidden || !strings.Contains(body, c.want) {
				t.Errorf("anonymous %s %s to %s: %d %.300s, want 403 naming %q", c.method, c.path, s.cfg.Name, code, body, c.want)
			}
		}
	}

	// The deep file, sent whole with a management token through the
	// follower: the leader's parser refuses it, and nobody falls over.
	req, _ := http.NewRequest("POST", base+"/v1/jobs", strings.NewReader(string(deep)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tether-Token", tok.SecretID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "nested more than") {
		t.Fatalf("deep submission with a token through a follower: %d %.300s, want 400 naming the nesting limit", resp.StatusCode, b)
	}
	// A good job through the follower still goes through, its body
	// streamed to the leader.
	job := `{"hcl": "job \"fwd\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n"}`
	req, _ = http.NewRequest("POST", base+"/v1/jobs", strings.NewReader(job))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tether-Token", tok.SecretID)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("job through a follower: %d %s", resp.StatusCode, b)
	}
	// A write without a body and without a type goes through too (it went
	// out chunked, which the leader took for a body of no type: 415).
	req, _ = http.NewRequest("POST", base+"/v1/security/join-token", nil)
	req.Header.Set("X-Tether-Token", tok.SecretID)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("bodyless write through a follower: %d %s", resp.StatusCode, b)
	}
	for _, s := range servers {
		if code, body := aclReq(t, s, "GET", "/v1/status/leader", ""); code != 200 {
			t.Errorf("%s no longer answers: %d %s", s.cfg.Name, code, body)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if follower.Store().JobByID("default", "fwd") == nil {
			return fmt.Errorf("the follower lacks job fwd")
		}
		return nil
	})
}
