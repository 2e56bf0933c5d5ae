package api_test

import (
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
)

// GET /v1/evaluations lists the evaluations the token may read, by ID,
// and narrows by ?prefix=.
func TestListEvaluationsFiltersByNamespace(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	b.PutEval(&structs.Evaluation{ID: "e1-default", Namespace: "default", JobID: "web", Status: "complete"})
	b.PutEval(&structs.Evaluation{ID: "e2-secret", Namespace: "secret", JobID: "hidden", Status: "complete"})
	doTok(t, srv, "PUT", "/v1/acl/policy/default-only", mgmt, api.PolicyRequest{Rules: `namespace "default" { policy = "read" }`})
	tok := decode[struct {
		SecretID string `json:"secret_id"`
	}](t, doTok(t, srv, "POST", "/v1/acl/token", mgmt, api.TokenRequest{Name: "d", Policies: []string{"default-only"}})).SecretID

	ids := func(token, q string) map[string]bool {
		out := map[string]bool{}
		for _, e := range decode[[]structs.Evaluation](t, doTok(t, srv, "GET", "/v1/evaluations"+q, token, nil)) {
			out[e.ID] = true
		}
		return out
	}
	if got := ids(mgmt, ""); !got["e1-default"] || !got["e2-secret"] {
		t.Errorf("management sees %v, want both", got)
	}
	if got := ids(tok, ""); !got["e1-default"] || got["e2-secret"] {
		t.Errorf("a default-only token sees %v, want e1-default only", got)
	}
	if got := ids(mgmt, "?prefix=e2-"); len(got) != 1 || !got["e2-secret"] {
		t.Errorf("prefix e2: %v", got)
	}
	if got := ids("", ""); len(got) != 0 {
		t.Errorf("anonymous sees %v, want none", got)
	}
}
