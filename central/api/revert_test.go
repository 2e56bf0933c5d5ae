package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/jobspec"
)

type versionsBody struct {
	Versions []*jobspec.Job `json:"versions"`
}

// docs/api.md "Job versions and revert": a revert registers a copy of an
// older version as the newest one; a version no longer kept, the current
// version and a stale enforce_prior_version are refused, each saying why.
func TestRevertRegistersCopyOfOlderVersion(t *testing.T) {
	_, srv := newTestServer(t)
	do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": webHCL})
	do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": strings.Replace(webHCL, "count = 2", "count = 5", 1)})

	r := do(t, srv, "POST", "/v1/job/web/revert", map[string]any{"job_version": 0, "enforce_prior_version": 1})
	if r.code != http.StatusOK {
		t.Fatalf("revert: %d %s", r.code, r.body)
	}
	if sub := decode[api.SubmitResponse](t, r); sub.EvalID == "" || sub.JobModifyIndex == 0 {
		t.Errorf("revert answer: %s", r.body)
	}
	vs := decode[versionsBody](t, do(t, srv, "GET", "/v1/job/web/versions", nil)).Versions
	if len(vs) != 3 || vs[0].Version != 2 || vs[1].Version != 1 || vs[2].Version != 0 {
		t.Fatalf("versions after revert: %d, want 2, 1, 0 newest first", len(vs))
	}
	if vs[0].TaskGroups[0].Count != 2 || vs[0].Stable {
		t.Errorf("version 2 is not an unstable copy of version 0: count %d stable %v", vs[0].TaskGroups[0].Count, vs[0].Stable)
	}

	// Nomad's spellings work too.
	if r := do(t, srv, "PUT", "/v1/job/web/revert", map[string]any{"JobVersion": 1, "EnforcePriorVersion": 2}); r.code != http.StatusOK {
		t.Errorf("revert with Nomad's field names: %d %s", r.code, r.body)
	}

	for _, tc := range []struct {
		body any
		code int
		want string
	}{
		{map[string]any{"job_version": 9}, 404, "no version 9 any more (kept versions: 3, 2, 1, 0)"},
		{map[string]any{"job_version": 3}, 400, "current version"},
		{map[string]any{"job_version": 0, "enforce_prior_version": 1}, 409, "is at version 3, not 1"},
		{map[string]any{}, 400, `no "job_version"`},
		{map[string]any{"job_version": 0, "JobVersion": 0}, 400, "send one"},
		{map[string]any{"version": 0}, 400, "unknown field"},
	} {
		r := do(t, srv, "POST", "/v1/job/web/revert", tc.body)
		if r.code != tc.code || !strings.Contains(errorOf(t, r), tc.want) {
			t.Errorf("revert %v: %d %s, want %d naming %q", tc.body, r.code, r.body, tc.code, tc.want)
		}
	}
	if r := do(t, srv, "POST", "/v1/job/nope/revert", map[string]any{"job_version": 0}); r.code != 404 || !strings.Contains(errorOf(t, r), `"nope"`) {
		t.Errorf("revert of an unknown job: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "GET", "/v1/job/web/revert", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET revert: %d, want 405", r.code)
	}
}

// Reading versions needs read-job; a revert needs submit-job.
func TestRevertNeedsSubmitJob(t *testing.T) {
	_, srv, mgmt := aclServer(t)
	if r := doTok(t, srv, "PUT", "/v1/acl/policy/readonly", mgmt, api.PolicyRequest{Rules: `namespace "default" { policy = "read" }`}); r.code != 200 {
		t.Fatalf("policy: %d %s", r.code, r.body)
	}
	r := doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "ro", Policies: []string{"readonly"}})
	if r.code != 200 {
		t.Fatalf("token: %d %s", r.code, r.body)
	}
	ro := decode[struct {
		SecretID string `json:"secret_id"`
	}](t, r).SecretID
	submit := clientToken(t, srv, mgmt)
	doTok(t, srv, "POST", "/v1/jobs", mgmt, map[string]any{"hcl": strings.Replace(webHCL, "count = 2", "count = 3", 1)})

	if r := doTok(t, srv, "GET", "/v1/job/web/versions", ro, nil); r.code != 200 {
		t.Errorf("versions with read-job: %d %s", r.code, r.body)
	}
	if r := doTok(t, srv, "GET", "/v1/job/web/versions", "", nil); r.code != 403 || !strings.Contains(errorOf(t, r), `"read-job"`) {
		t.Errorf("versions without a token: %d %s, want 403 naming read-job", r.code, r.body)
	}
	body := map[string]any{"job_version": 0}
	for _, tok := range []string{"", ro} {
		if r := doTok(t, srv, "POST", "/v1/job/web/revert", tok, body); r.code != 403 || !strings.Contains(errorOf(t, r), `"submit-job"`) {
			t.Errorf("revert with token %q: %d %s, want 403 naming submit-job", tok, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "POST", "/v1/job/web/revert", submit, body); r.code != 200 {
		t.Errorf("revert with submit-job: %d %s", r.code, r.body)
	}
}

// A page the operator visits cannot make the browser revert a job (ACLs
// off, as in central dev): cross-origin and non-JSON writes are refused
// on the revert endpoint as on every write, and the job keeps its version.
func TestCrossOriginRevertRefused(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	for _, src := range []string{webHCL, strings.Replace(webHCL, "count = 2", "count = 5", 1)} {
		body, _ := json.Marshal(map[string]string{"hcl": src})
		if code, out := send(t, base, "POST", "/v1/jobs", bytes.NewReader(body), "Content-Type: application/json"); code != 200 {
			t.Fatalf("submit: %d %s", code, out)
		}
	}
	rev := `{"job_version": 0}`
	for _, headers := range []string{
		"Content-Type: text/plain\nOrigin: http://evil.example\nSec-Fetch-Site: cross-site",
		"Content-Type: text/plain;charset=UTF-8",
		"Content-Type: application/json\nOrigin: http://evil.example",
	} {
		if code, out := send(t, base, "POST", "/v1/job/web/revert", strings.NewReader(rev), headers); code != 403 && code != 415 {
			t.Errorf("revert with %q: %d %s, want 403 or 415", headers, code, out)
		}
	}
	if j := b.JobByID("default", "web"); j.Version != 1 {
		t.Fatalf("a refused revert changed the job: version %d", j.Version)
	}
	if code, out := send(t, base, "POST", "/v1/job/web/revert", strings.NewReader(rev), "Content-Type: application/json"); code != 200 {
		t.Errorf("revert from the CLI or a script: %d %s", code, out)
	}
}
