package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
)

// FuzzSubmitBody sends arbitrary bodies to POST /v1/jobs: the handler must
// never panic and never answer 500 (the stub backend accepts every job, so
// a 500 can only come from the decoder or the parser).
func FuzzSubmitBody(f *testing.F) {
	for _, s := range []string{
		`{"hcl": "job \"web\" {}"}`,
		`{"hcl": "job \"web\" {\n group \"g\" { count = 2 }\n}", "filename": "web.hcl", "variables": {"a": "b"}}`,
		`{"job": {"id": "x", "task_groups": [{"name": "g", "tasks": [null]}]}}`,
		`{"job": {"id": "x", "task_groups": [null]}}`,
		`{"job": null}`,
		`{"hcl": null, "job": {}}`,
		`[]`,
		`{"variables": {"a": 1}}`,
	} {
		f.Add([]byte(s))
	}
	// The report's shapes: a deeply nested job file, a variable nested as
	// deep, and a nest of for expressions (refused, not crashed on).
	f.Add([]byte(deepSubmission()))
	f.Add([]byte(`{"hcl": "variable \"v\" {}\njob \"x\" {}", "variables": {"v": "` + strings.Repeat("[", 100_000) + `"}}`))
	f.Add([]byte(`{"hcl": "job \"x\" {\n meta = { a = jsonencode([for a in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : [for b in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : [for c in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : [for d in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : [for e in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : [for f in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] : 1]]]]]]) }\n}"}`))
	srv := api.New(apitest.New(), nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/jobs", strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
