package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
)

// POST /v1/validate/job answers valid or not, with file:line, and
// registers nothing.
func TestValidateJob(t *testing.T) {
	b, srv := newTestServer(t)
	r := do(t, srv, "POST", "/v1/validate/job", map[string]any{"hcl": webHCL, "filename": "web.hcl"})
	if got := decode[api.ValidateResponse](t, r); r.code != 200 || !got.Valid || got.Error != "" {
		t.Fatalf("valid job: %d %s", r.code, r.body)
	}
	bad := strings.Replace(webHCL, `driver = "exec"`, `driver = "dockr"`, 1)
	r = do(t, srv, "POST", "/v1/validate/job", map[string]any{"hcl": bad, "filename": "web.hcl"})
	if got := decode[api.ValidateResponse](t, r); r.code != 200 || got.Valid || !strings.Contains(got.Error, "web.hcl:6:") {
		t.Fatalf("bad driver: %d %s, want valid false at web.hcl:6", r.code, r.body)
	}
	r = do(t, srv, "POST", "/v1/validate/job", `{"hcl": 3}`)
	if got := decode[api.ValidateResponse](t, r); r.code != 200 || got.Valid || !strings.Contains(got.Error, "decoding request body") {
		t.Fatalf("bad body: %d %s", r.code, r.body)
	}
	if b.JobByID("default", "web") != nil || len(b.EvalsByJob("default", "web")) != 0 {
		t.Fatal("validation registered the job")
	}
}

// Validation needs read-job (as in Nomad), checked before the body is
// read: an anonymous request whose body never arrives is answered 403 at
// once, by the API and by PreAuthorize as a follower runs it.
func TestValidateJobACL(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	if r := doTok(t, srv, "POST", "/v1/validate/job", mgmt, map[string]any{"hcl": webHCL}); r.code != 200 || !decode[api.ValidateResponse](t, r).Valid {
		t.Fatalf("management token: %d %s", r.code, r.body)
	}
	pre := httptest.NewServer(api.PreAuthorize(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s %s reached the handler", r.Method, r.URL.Path)
	})))
	defer pre.Close()
	for _, s := range []*httptest.Server{srv, pre} {
		pr, pw := io.Pipe() // a body that never comes: reading it would hang
		req, err := http.NewRequest("POST", s.URL+"/v1/validate/job", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 1 << 20
		done := make(chan *http.Response, 1)
		go func() {
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Error(err)
			}
			done <- resp
		}()
		select {
		case resp := <-done:
			if resp == nil {
				t.Fatal("no response")
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `read-job`) {
				t.Fatalf("anonymous: %d %s, want 403 naming read-job", resp.StatusCode, body)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("an anonymous validation waited for its body")
		}
		pw.Close()
	}
}
