package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
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

	// An ordinary version's allocation stops when the job becomes a parent.
	if _, _, err := s.SubmitJob(ctx, batchJob("turns")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.AllocsByJob("default", "turns")); n != 1 {
			return fmt.Errorf("%d allocations", n)
		}
		return nil
	})
	j := batchJob("turns")
	j.Parameterized = &jobspec.Parameterized{Payload: "optional"}
	if evalID, _, err := s.SubmitJob(ctx, j); err != nil || evalID == "" {
		t.Fatalf("SubmitJob(ordinary → parent) = %q %v, want an evaluation that stops the old allocation", evalID, err)
	}
	eventually(t, 10*time.Second, func() error {
		for _, a := range s.store.AllocsByJob("default", "turns") {
			if a.DesiredStatus != protocol.DesiredStop {
				return fmt.Errorf("alloc %s still desired %s", a.ID, a.DesiredStatus)
			}
		}
		return nil
	})
}
