package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/jobspec"
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

// blockingPlanner holds every plan until release is closed.
type blockingPlanner struct {
	*apitest.Backend
	started chan struct{}
	release chan struct{}
}

func (b *blockingPlanner) PlanJob(ctx context.Context, job *jobspec.Job) (*jobplan.Result, error) {
	b.started <- struct{}{}
	<-b.release
	return b.Backend.PlanJob(ctx, job)
}

// Plans scan every node, so they take the parse slots too: with every
// slot held by a plan, the next one is told to retry (503), and the
// held ones then finish.
func TestPlansShareTheParseSlots(t *testing.T) {
	defer api.SetSubmitWaits(time.Second, 3*time.Second)()
	b := &blockingPlanner{Backend: apitest.New(), started: make(chan struct{}, 16), release: make(chan struct{})}
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	done := make(chan int, api.ParseSlots())
	for range api.ParseSlots() {
		go func() {
			body, _ := json.Marshal(map[string]any{"hcl": webHCL})
			resp, err := http.Post(srv.URL+"/v1/job/web/plan", "application/json", bytes.NewReader(body))
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for i := range api.ParseSlots() {
		select {
		case <-b.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d plans started", i)
		}
	}
	extra := make(chan response, 1)
	go func() { extra <- do(t, srv, "POST", "/v1/job/web/plan", map[string]any{"hcl": webHCL}) }()
	select {
	case r := <-extra:
		if r.code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, r), "retry") {
			t.Errorf("a plan while every slot plans: %d %s, want 503 saying to retry", r.code, r.body)
		}
	case <-b.started:
		t.Error("a plan started while every slot was planning")
	case <-time.After(20 * time.Second):
		t.Error("a plan while every slot plans got no answer")
	}
	close(b.release)
	for range api.ParseSlots() {
		if code := <-done; code != http.StatusOK {
			t.Errorf("held plan: %d, want 200", code)
		}
	}
}
