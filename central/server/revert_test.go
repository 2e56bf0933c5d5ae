package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
)

// docs/api.md "Job versions and revert", through Raft: a revert registers
// a copy of the old version as the newest, with an evaluation; a version
// pruned from the history is refused naming the kept ones; a stale
// enforce_prior_version is a conflict.
func TestRevertThroughRaft(t *testing.T) {
	s := testServer(t, 10*time.Second)
	ctx := context.Background()
	for count := 1; count <= 8; count++ { // versions 0..7; 6 are kept
		if _, _, err := s.SubmitJob(ctx, testJob(count)); err != nil {
			t.Fatal(err)
		}
	}
	code, body := aclReqBody(t, s, http.MethodPost, "/v1/job/web/revert", "", map[string]any{"job_version": 3})
	if code != 200 {
		t.Fatalf("revert: %d %s", code, body)
	}
	j := s.store.JobByID("default", "web")
	if j.Version != 8 || j.TaskGroups[0].Count != 4 || j.Stable {
		t.Fatalf("after revert to version 3: version %d count %d stable %v, want version 8, count 4, not stable", j.Version, j.TaskGroups[0].Count, j.Stable)
	}
	var evals int
	for _, e := range s.store.EvalsByJob("default", "web") {
		if e.JobModifyIndex == j.JobModifyIndex {
			evals++
		}
	}
	if evals != 1 {
		t.Errorf("%d evaluations for the reverted version, want 1", evals)
	}

	code, body = aclReqBody(t, s, http.MethodPost, "/v1/job/web/revert", "", map[string]any{"job_version": 0})
	if code != 404 || !strings.Contains(body, "no version 0 any more (kept versions: 8, 7, 6, 5, 4, 3)") {
		t.Errorf("revert to a pruned version: %d %s", code, body)
	}
	prior := uint64(7)
	if _, _, err := s.RevertJob(ctx, "default", "web", 4, &prior); !errors.Is(err, api.ErrConflict) {
		t.Errorf("RevertJob with a stale prior version: %v, want ErrConflict", err)
	}
	if _, _, err := s.RevertJob(ctx, "default", "web", 2, nil); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "central job history web") {
		t.Errorf("RevertJob to a pruned version: %v, want ErrInvalid pointing at job history", err)
	}
}
