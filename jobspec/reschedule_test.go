package jobspec

import (
	"testing"
	"time"
)

func TestNextRescheduleDelayFibonacciAfterReset(t *testing.T) {
	p := &ReschedulePolicy{Delay: 5 * time.Second, DelayFunction: DelayFibonacci, MaxDelay: 30 * time.Second}
	// A lineage at the ceiling whose last delay was reset to delay starts a
	// new series: delay, delay, 2×delay, ... (Nomad's rule).
	if got := NextRescheduleDelay(p, 30*time.Second, 5*time.Second, 7); got != 5*time.Second {
		t.Fatalf("after a reset: %s, want 5s", got)
	}
	if got := NextRescheduleDelay(p, 5*time.Second, 5*time.Second, 8); got != 10*time.Second {
		t.Fatalf("second of the new series: %s, want 10s", got)
	}
	if got := NextRescheduleDelay(p, 15*time.Second, 25*time.Second, 5); got != 30*time.Second {
		t.Fatalf("capped: %s, want 30s", got)
	}
}

// TestDefaultReschedule: Nomad's defaults per job type, none for system.
func TestDefaultReschedule(t *testing.T) {
	if d := DefaultReschedule(JobTypeService); !d.Unlimited || d.Delay != 30*time.Second || d.DelayFunction != DelayExponential || d.MaxDelay != time.Hour {
		t.Errorf("service: %+v", d)
	}
	if d := DefaultReschedule(JobTypeBatch); d.Unlimited || d.Attempts != 1 || d.Interval != 24*time.Hour || d.Delay != 5*time.Second || d.DelayFunction != DelayConstant {
		t.Errorf("batch: %+v", d)
	}
	if DefaultReschedule(JobTypeSystem) != nil || DefaultReschedule(JobTypeSysBatch) != nil {
		t.Error("system and sysbatch have a default reschedule policy")
	}
}
