package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/jobplan"
)

// docs/api.md "Plan a job": a plan needs submit-job, as Nomad's, checked
// before the body is read: read-job alone is refused, and so is an
// anonymous request, with a body that would not even parse.
func TestPlanNeedsSubmitJob(t *testing.T) {
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
	client := clientToken(t, srv, mgmt)

	if r := doTok(t, srv, "POST", "/v1/job/web/plan", "", "not json at all"); r.code != http.StatusForbidden {
		t.Errorf("anonymous plan: %d %s, want 403 before the body is read", r.code, r.body)
	}
	if r := doTok(t, srv, "POST", "/v1/job/web/plan", ro, map[string]any{"hcl": webHCL}); r.code != http.StatusForbidden {
		t.Errorf("plan with read-job only: %d %s, want 403", r.code, r.body)
	}
	r = doTok(t, srv, "POST", "/v1/job/web/plan", client, map[string]any{"hcl": strings.Replace(webHCL, "count = 2", "count = 3", 1)})
	if r.code != http.StatusOK {
		t.Fatalf("plan with submit-job: %d %s", r.code, r.body)
	}
	res := decode[jobplan.Result](t, r)
	if res.Annotations == nil || res.Diff == nil || res.Diff.Type != jobplan.DiffEdited {
		t.Errorf("plan answer: %s", r.body)
	}
}
