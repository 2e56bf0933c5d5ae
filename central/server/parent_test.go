package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

// A periodic or parameterized parent is registered without an evaluation
// and never placed (only its children run); its status is running until
// it is stopped. Registered over an ordinary version, it stops that
// version's allocations.
func TestParentJobIsNeverScheduled(t *testing.T) {
	s := testServer(t, 30*time.Second)
	readyNode(t, s, "n1")
	ctx := context.Background()

	for _, mod := range []func(*jobspec.Job){
		func(j *jobspec.Job) { j.Periodic = &jobspec.Periodic{Crons: []string{"0 0 1 1 *"}} }, // disabled: no launch either
		func(j *jobspec.Job) { j.Parameterized = &jobspec.Parameterized{Payload: "optional"} },
	} {
		j := batchJob("parent")
		mod(j)
		evalID, idx, err := s.SubmitJob(ctx, j)
		if err != nil || evalID != "" || idx == 0 {
			t.Fatalf("SubmitJob(parent) = %q %d %v, want no evaluation", evalID, idx, err)
		}
		if st := s.store.JobByID("default", "parent").Status; st != jobspec.JobStatusRunning {
			t.Fatalf("parent status %q, want running", st)
		}
		// An ordinary job submitted after it is placed: the parent's
		// chance to be placed (there is none) has passed by then.
		if _, _, err := s.SubmitJob(ctx, batchJob("plain")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			if n := len(s.store.AllocsByJob("default", "plain")); n != 1 {
				return fmt.Errorf("plain job has %d allocations", n)
			}
			return nil
		})
		if n := len(s.store.AllocsByJob("default", "parent")); n != 0 {
			t.Fatalf("parent has %d allocations", n)
		}
		if evs := s.store.EvalsByJob("default", "parent"); len(evs) != 0 {
			t.Fatalf("parent has %d evaluations", len(evs))
		}
		evalID, _, err = s.StopJob(ctx, "default", "parent", true)
		if err != nil || evalID != "" {
			t.Fatalf("StopJob(parent) = %q %v, want no evaluation", evalID, err)
		}
		if _, _, err := s.StopJob(ctx, "default", "plain", true); err != nil {
			t.Fatal(err)
		}
	}

	// A job cannot become a parent, nor stop being one (Nomad's rule):
	// purge it first.
	if _, _, err := s.SubmitJob(ctx, batchJob("turns")); err != nil {
		t.Fatal(err)
	}
	j := batchJob("turns")
	j.Parameterized = &jobspec.Parameterized{Payload: "optional"}
	if _, _, err := s.SubmitJob(ctx, j); err == nil || !strings.Contains(err.Error(), "purge it first") {
		t.Fatalf("ordinary → parameterized: %v, want refused", err)
	}
	if _, _, err := s.StopJob(ctx, "default", "turns", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SubmitJob(ctx, j); err != nil {
		t.Fatalf("parameterized after a purge: %v", err)
	}
	if _, _, err := s.SubmitJob(ctx, batchJob("turns")); err == nil || !strings.Contains(err.Error(), "cannot stop being parameterized") {
		t.Fatalf("parameterized → ordinary: %v, want refused", err)
	}
	p := periodicBatch("cron", "0 3 * * *")
	if _, _, err := s.SubmitJob(ctx, p); err != nil {
		t.Fatal(err)
	}
	p2 := periodicBatch("cron", "0 4 * * *") // a new version of a periodic job is fine
	if _, _, err := s.SubmitJob(ctx, p2); err != nil {
		t.Fatalf("periodic → periodic: %v", err)
	}
	if _, _, err := s.SubmitJob(ctx, batchJob("cron")); err == nil || !strings.Contains(err.Error(), "cannot stop being periodic") {
		t.Fatalf("periodic → ordinary: %v, want refused", err)
	}
}
