package broker

import (
	"io"
	"log/slog"
	"testing"
)

// TestRetainedNeverForcedToExpire checks that the embedded broker keeps
// retained messages however old: mochi's default deletes any retained
// message older than 24 h (MaximumMessageExpiryInterval), which would
// drop a node's desired state a day after central last changed it.
func TestRetainedNeverForcedToExpire(t *testing.T) {
	b, err := Start("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.srv.Options.Capabilities.MaximumMessageExpiryInterval; got != 0 {
		t.Fatalf("MaximumMessageExpiryInterval = %d s: retained desired states older than that are deleted", got)
	}
}
