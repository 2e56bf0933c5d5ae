package server

import (
	"strings"
	"testing"
	"time"
)

// A shutdown step that never finishes (seen: the embedded broker waiting on
// a client) does not keep Close from returning; the error names the step.
func TestCloseGivesUpOnAStuckStep(t *testing.T) {
	s := testServer(t, time.Minute)
	s.closeTimeout = 300 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	s.closers = append(s.closers, func() error { <-release; return nil })
	start := time.Now()
	returned := make(chan error, 1)
	go func() { returned <- s.Close() }()
	select {
	case err := <-returned:
		if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
			t.Fatalf("Close = %v, want the stuck step named", err)
		}
		t.Logf("Close returned after %v: %v", time.Since(start), err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close still blocked after 30 s")
	}
}
