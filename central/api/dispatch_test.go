package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/jobspec"
)

const renderHCL = `job "render" {
  type = "batch"
  meta {
    colour = "blue"
    keep   = "yes"
  }
  parameterized {
    payload       = "required"
    meta_required = ["x"]
    meta_optional = ["colour"]
  }
  group "g" {
    task "work" {
      driver = "exec"
      config {
        command = "/bin/cat"
        args    = ["local/input.json"]
      }
      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
`

func submitHCL(t *testing.T, srv *httptest.Server, hcl string) {
	t.Helper()
	if r := do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": hcl}); r.code != 200 {
		t.Fatalf("submit: %d %s", r.code, r.body)
	}
}

func TestDispatch(t *testing.T) {
	_, srv := newTestServer(t)
	submitHCL(t, srv, renderHCL)
	r := do(t, srv, "POST", "/v1/job/render/dispatch", `{"Payload": "`+base64.StdEncoding.EncodeToString([]byte(`{"n":1}`))+`", "Meta": {"x": "1", "colour": "red"}}`)
	if r.code != 200 {
		t.Fatalf("dispatch: %d %s", r.code, r.body)
	}
	resp := decode[api.DispatchResponse](t, r)
	if !strings.HasPrefix(resp.DispatchedJobID, "render/dispatch-") || len(resp.DispatchedJobID) != len("render/dispatch-1700000000-")+8 || resp.EvalID == "" {
		t.Fatalf("response %+v", resp)
	}
	// The child is a job of its own, reached with its ID escaped.
	r = do(t, srv, "GET", "/v1/job/"+url.PathEscape(resp.DispatchedJobID), nil)
	if r.code != 200 {
		t.Fatalf("get child: %d %s", r.code, r.body)
	}
	child := decode[jobspec.Job](t, r)
	if child.ParentID != "render" || string(child.Payload) != `{"n":1}` || child.Meta["x"] != "1" || child.Meta["colour"] != "red" || child.Meta["keep"] != "yes" {
		t.Fatalf("child: parent %q payload %q meta %v", child.ParentID, child.Payload, child.Meta)
	}
	// Lower-case field names (the API's own) are accepted too.
	r = do(t, srv, "PUT", "/v1/job/render/dispatch", map[string]any{"payload": []byte("p"), "meta": map[string]string{"x": "2"}})
	if r.code != 200 {
		t.Fatalf("second dispatch: %d %s", r.code, r.body)
	}
	if id := decode[api.DispatchResponse](t, r).DispatchedJobID; id == resp.DispatchedJobID {
		t.Fatalf("two dispatches got the same ID %q", id)
	}
}

// A dispatch retried with the same idempotency token (its answer lost on a
// flaky link, say) returns the child the first one made; another token
// dispatches again.
func TestDispatchIdempotencyToken(t *testing.T) {
	b, srv := newTestServer(t)
	submitHCL(t, srv, renderHCL)
	dispatch := func(token string) api.DispatchResponse {
		t.Helper()
		r := do(t, srv, "POST", "/v1/job/render/dispatch", map[string]any{"Payload": []byte("a"), "Meta": map[string]string{"x": "1"}, "IdempotencyToken": token})
		if r.code != 200 {
			t.Fatalf("dispatch with token %q: %d %s", token, r.code, r.body)
		}
		return decode[api.DispatchResponse](t, r)
	}
	first := dispatch("retry-1")
	again := dispatch("retry-1")
	if again.DispatchedJobID != first.DispatchedJobID || again.EvalID != "" || first.EvalID == "" {
		t.Fatalf("first %+v, retry %+v: want the same child and no new evaluation", first, again)
	}
	// The API's own spelling finds it too.
	r := do(t, srv, "POST", "/v1/job/render/dispatch", `{"payload": "YQ==", "meta": {"x": "1"}, "idempotency_token": "retry-1"}`)
	if r.code != 200 || decode[api.DispatchResponse](t, r).DispatchedJobID != first.DispatchedJobID {
		t.Fatalf("idempotency_token: %d %s", r.code, r.body)
	}
	if other := dispatch("retry-2"); other.DispatchedJobID == first.DispatchedJobID || other.EvalID == "" {
		t.Fatalf("another token: %+v", other)
	}
	n := 0
	for _, j := range b.Jobs("default") {
		if j.ParentID == "render" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d children, want 2", n)
	}
	if c := b.JobByID("default", first.DispatchedJobID); c.DispatchIdempotencyToken != "retry-1" {
		t.Fatalf("child token %q", c.DispatchIdempotencyToken)
	}
}

// Every refusal is a 400 (404 for a missing job) that says what is wrong
// and what to send instead.
func TestDispatchErrors(t *testing.T) {
	_, srv := newTestServer(t)
	submitHCL(t, srv, renderHCL)
	submitHCL(t, srv, webHCL)
	submitHCL(t, srv, strings.NewReplacer(`"render"`, `"quiet"`, `"required"`, `"forbidden"`, "      dispatch_payload {\n        file = \"input.json\"\n      }\n", "").Replace(renderHCL))
	p64 := base64.StdEncoding.EncodeToString
	big := p64(bytes.Repeat([]byte("a"), jobspec.DispatchPayloadSizeLimit+1))
	for _, tc := range []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"unknown job", "/v1/job/nope/dispatch", `{}`, 404, `job "nope" not found`},
		{"not parameterized", "/v1/job/web/dispatch", `{}`, 400, `job "web" is not a parameterized job`},
		{"payload required", "/v1/job/render/dispatch", `{"Meta": {"x": "1"}}`, 400, `requires a payload`},
		{"payload forbidden", "/v1/job/quiet/dispatch", `{"Payload": "` + p64([]byte("a")) + `", "Meta": {"x": "1"}}`, 400, `does not take a payload`},
		{"payload too big", "/v1/job/render/dispatch", `{"Payload": "` + big + `", "Meta": {"x": "1"}}`, 400, "payload is 16385 bytes, over the limit of 16384 bytes"},
		{"unknown meta", "/v1/job/render/dispatch", `{"Payload": "YQ==", "Meta": {"x": "1", "y": "2"}}`, 400, "meta keys the job does not accept: y (accepted: colour, x)"},
		{"missing meta", "/v1/job/render/dispatch", `{"Payload": "YQ==", "Meta": {"colour": "red"}}`, 400, "lacks required meta keys: x"},
		{"unknown field", "/v1/job/render/dispatch", `{"IdPrefixTemplate": "t"}`, 400, `unknown field "IdPrefixTemplate"`},
		{"token too long", "/v1/job/render/dispatch", `{"IdempotencyToken": "` + strings.Repeat("t", 257) + `"}`, 400, "idempotency token is 257 bytes, over the limit of 256"},
		{"bad base64", "/v1/job/render/dispatch", `{"Payload": "%%%"}`, 400, "illegal base64"},
		{"trailing data", "/v1/job/render/dispatch", `{} {}`, 400, "unexpected data after the JSON object"},
		{"body too large", "/v1/job/render/dispatch", `{"Payload": "` + strings.Repeat("A", 300<<10) + `"}`, 413, "larger than 256 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, "POST", tc.path, tc.body)
			if r.code != tc.code || !strings.Contains(errorOf(t, r), tc.want) {
				t.Fatalf("%d %s, want %d with %q", r.code, r.body, tc.code, tc.want)
			}
		})
	}
	// Nothing was dispatched.
	r := do(t, srv, "GET", "/v1/jobs?prefix=render/", nil)
	if n := len(decode[[]api.JobListEntry](t, r)); n != 0 {
		t.Fatalf("%d children after refused dispatches", n)
	}
}

// Dispatch needs dispatch-job in the job's namespace: submit-job alone,
// or read, is not enough; a follower's PreAuthorize refuses it before
// reading the body.
func TestDispatchACL(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	if r := doTok(t, srv, "POST", "/v1/jobs", mgmt, map[string]any{"hcl": renderHCL}); r.code != 200 {
		t.Fatalf("submit: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "PUT", "/v1/acl/policy/submit-only", mgmt, api.PolicyRequest{Rules: `namespace "default" { capabilities = ["submit-job", "read-job"] }`}); r.code != 200 {
		t.Fatalf("policy: %d %s", r.code, r.body)
	}
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "submitter", Policies: []string{"submit-only"}})
	if r.code != 200 {
		t.Fatalf("token: %d %s", r.code, r.body)
	}
	submitter := decode[acl.TokenView](t, r).SecretID
	body := map[string]any{"Payload": []byte("a"), "Meta": map[string]string{"x": "1"}}
	for _, tok := range []string{"", submitter} {
		r := doTok(t, srv, "POST", "/v1/job/render/dispatch", tok, body)
		if r.code != http.StatusForbidden || !strings.Contains(errorOf(t, r), `capability "dispatch-job" in namespace "default"`) {
			t.Fatalf("token %q: %d %s, want 403 naming dispatch-job", tok, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "POST", "/v1/job/render/dispatch", clientToken(t, srv, mgmt), body); r.code != 200 {
		t.Fatalf("tutorial token (dispatch-job): %d %s", r.code, r.body)
	}
	// PreAuthorize, as a follower runs it, answers before the body.
	pre := httptest.NewServer(api.PreAuthorize(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s %s reached the handler", r.Method, r.URL.Path)
	})))
	defer pre.Close()
	if r := doTok(t, pre, "POST", "/v1/job/render/dispatch", submitter, body); r.code != http.StatusForbidden {
		t.Fatalf("PreAuthorize: %d %s, want 403", r.code, r.body)
	}
}

// FuzzDispatchBody sends arbitrary bodies to POST /v1/job/render/dispatch:
// the handler must never panic nor answer 500, and whatever it accepts is
// within the job's parameterized block.
func FuzzDispatchBody(f *testing.F) {
	for _, s := range []string{
		`{"Payload": "YQ==", "Meta": {"x": "1"}}`,
		`{"payload": "YQ==", "meta": {"x": "1", "colour": "c"}}`,
		`{"Meta": {"x": null}}`,
		`{"Payload": null}`,
		`[]`, `null`, ``, `{"Meta": []}`,
	} {
		f.Add([]byte(s))
	}
	b := apitest.New()
	srv := api.New(b, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/jobs", strings.NewReader(`{"hcl": `+strconvQuote(renderHCL)+`}`)))
	if rec.Code != 200 {
		f.Fatalf("submit: %d %s", rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/job/render/dispatch", bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code == 200 {
			var resp api.DispatchResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			child := b.JobByID("default", resp.DispatchedJobID)
			if child == nil || len(child.Payload) == 0 || len(child.Payload) > jobspec.DispatchPayloadSizeLimit {
				t.Fatalf("accepted %q: child %+v", body, child)
			}
			if _, ok := child.Meta["x"]; !ok {
				t.Fatalf("accepted %q without the required meta key", body)
			}
		}
	})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A submitted job may not pose as a child: parent_id and payload are
// central's to set (a payload past the 16 KiB that agents take would
// otherwise reach them).
func TestSubmitRefusesChildFields(t *testing.T) {
	_, srv := newTestServer(t)
	for _, field := range []string{`"parent_id": "render"`, `"payload": "` + base64.StdEncoding.EncodeToString(make([]byte, 20<<10)) + `"`} {
		body := `{"job": {"id": "x", "type": "batch", ` + field + `, "task_groups": [{"name": "g", "count": 1, "tasks": [{"name": "t", "driver": "exec"}]}]}}`
		r := do(t, srv, "POST", "/v1/jobs", body)
		if r.code != 400 || !strings.Contains(errorOf(t, r), "sets parent_id, payload or dispatch_idempotency_token, which central sets") {
			t.Fatalf("%s: %d %s", field, r.code, r.body)
		}
	}
}
