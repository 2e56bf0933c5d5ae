package state

import (
	"errors"
	"testing"
)

// A write with EnforceIndex applies only while the job's JobModifyIndex is
// still the one its writer read (a revert racing another submit).
func TestUpsertJobEnforceIndex(t *testing.T) {
	h := newHarness(t)
	h.mustApply(upsertJob(testJob("web", 2), nil)) // index 1, version 0
	h.mustApply(upsertJob(testJob("web", 3), nil)) // index 2, version 1

	stale := upsertJob(testJob("web", 2), testEval("e1", "web"))
	stale.UpsertJob.EnforceIndex = 1
	res := h.apply(stale)
	if !errors.Is(res.Err, ErrConflict) {
		t.Fatalf("write enforcing a stale index: err %v, want ErrConflict", res.Err)
	}
	if j := h.store.JobByID("default", "web"); j.Version != 1 || j.TaskGroups[0].Count != 3 {
		t.Errorf("refused write changed the job: version %d count %d", j.Version, j.TaskGroups[0].Count)
	}
	if h.store.EvalByID("e1") != nil {
		t.Error("refused write inserted its evaluation")
	}

	fresh := upsertJob(testJob("web", 2), testEval("e2", "web"))
	fresh.UpsertJob.EnforceIndex = 2
	res = h.mustApply(fresh)
	if j := h.store.JobByID("default", "web"); j.Version != 2 || res.JobIndex != 4 {
		t.Errorf("write enforcing the current index: version %d job index %d", j.Version, res.JobIndex)
	}

	missing := upsertJob(testJob("nope", 1), nil)
	missing.UpsertJob.EnforceIndex = 1
	if res := h.apply(missing); !errors.Is(res.Err, ErrConflict) {
		t.Errorf("enforced write of a job that does not exist: err %v, want ErrConflict", res.Err)
	}
}

// A write with EnforceAbsent applies only while the job does not exist
// (`job run -check-index 0` after planning a new job).
func TestUpsertJobEnforceAbsent(t *testing.T) {
	h := newHarness(t)
	first := upsertJob(testJob("web", 2), nil)
	first.UpsertJob.EnforceAbsent = true
	h.mustApply(first)

	again := upsertJob(testJob("web", 3), testEval("e1", "web"))
	again.UpsertJob.EnforceAbsent = true
	if res := h.apply(again); !errors.Is(res.Err, ErrConflict) {
		t.Fatalf("enforce-absent write of an existing job: err %v, want ErrConflict", res.Err)
	}
	if j := h.store.JobByID("default", "web"); j.TaskGroups[0].Count != 2 || h.store.EvalByID("e1") != nil {
		t.Errorf("refused write changed the job (count %d) or inserted its evaluation", j.TaskGroups[0].Count)
	}
}
