package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// TestReplayedServiceSetIgnored is the replay of issue 22: an enrolled
// agent holds central's signed service set of index 5; the same signed
// message of index 3 (an older set, genuinely signed) arrives again, as a
// site broker or a Will could deliver it. The agent ignores it (SvcStale)
// and its template keeps the newer address; a newer set still applies.
func TestReplayedServiceSetIgnored(t *testing.T) {
	privs, chain := keyChain(t, 1)
	central := newRotatingCentral(t, chain[0].PublicKey)
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	cfg := testConfig(dir, b.url())
	cfg.JoinToken, cfg.Central = "jt", central.srv.URL
	drv := fake.New()
	ag, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval: 50 * time.Millisecond, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ag.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	signed := func(m any) []byte {
		t.Helper()
		var err error
		switch m := m.(type) {
		case *protocol.ServiceSet:
			err = protocol.SignServiceSet(m, privs[0])
		case *protocol.Desired:
			err = protocol.SignDesired(m, privs[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	id := ag.NodeID()
	old := signed(apiSet(3, "10.0.0.3"))
	b.publish(topics.Service("api"), old, true)
	b.publish(topics.Desired(id), signed(desired(id, 1, templatedAlloc("a1", "noop"))), true)
	waitRendered(t, dir, "a1", "10.0.0.3:8080")
	b.publish(topics.Service("api"), signed(apiSet(5, "10.0.0.5")), true)
	waitRendered(t, dir, "a1", "10.0.0.5:8080")

	b.publish(topics.Service("api"), old, true) // the replay
	eventually(t, 10*time.Second, func() error {
		if c := ag.Counters(); c.SvcStale != 1 {
			return fmt.Errorf("stale service sets %d, want 1 (counters %+v)", c.SvcStale, c)
		}
		return nil
	})
	if got := renderedFile(dir, "a1"); got != "10.0.0.5:8080" {
		t.Fatalf("template rendered %q after the replay, want the newer 10.0.0.5:8080", got)
	}
	b.publish(topics.Service("api"), signed(apiSet(7, "10.0.0.7")), true)
	waitRendered(t, dir, "a1", "10.0.0.7:8080")
	if c := ag.Counters(); c.BadSignature != 0 {
		t.Fatalf("bad signatures %d: the test's messages should all verify", c.BadSignature)
	}
}
