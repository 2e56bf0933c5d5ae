package server

import (
	"context"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func TestEvalQueueCoalescesEvaluationsOfOneJob(t *testing.T) {
	q := newEvalQueue()
	for _, e := range []*structs.Evaluation{
		{ID: "1", Namespace: "default", JobID: "a"},
		{ID: "2", Namespace: "default", JobID: "b"},
		{ID: "3", Namespace: "default", JobID: "a"},
		{ID: "4", Namespace: "other", JobID: "a"},
		{ID: "5", Namespace: "default", JobID: "a"},
	} {
		q.push(e)
	}
	ctx := context.Background()
	e, dups := q.pop(ctx)
	if e.ID != "1" || len(dups) != 2 || dups[0].ID != "3" || dups[1].ID != "5" {
		t.Fatalf("pop = %v with dups %v, want 1 with [3 5]", e.ID, ids(dups))
	}
	for _, want := range []string{"2", "4"} {
		if e, dups := q.pop(ctx); e.ID != want || len(dups) != 0 {
			t.Fatalf("pop = %s %v, want %s alone", e.ID, ids(dups), want)
		}
	}
	if q.len() != 0 {
		t.Fatalf("queue not empty: %d", q.len())
	}
}

func ids(es []*structs.Evaluation) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}
