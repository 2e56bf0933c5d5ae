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
