package agent

import (
	"context"
	"crypto/ed25519"
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

// A service set's index counts within one pinned key, like a desired
// state's. A thief of central's signing key publishes a set with index
// 2^62; the agent takes it (the key was central's) and then refuses
// central's own sets as older. Once central rotates, the agent re-pins on
// the first desired state, takes central's next set of the service
// whatever its index (here the retained one, sent again on the new
// subscription), and refuses the stolen key alone from then on.
func TestStolenKeyServiceIndexEndsWithRotation(t *testing.T) {
	privs, chain := keyChain(t, 2)
	central := newRotatingCentral(t, chain[0].PublicKey)
	central.setChain(chain[:1])
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	a := startEnrolled(t, dir, b, central, fake.New())
	id := a.NodeID()
	signedSet := func(s *protocol.ServiceSet, keys ...ed25519.PrivateKey) []byte {
		t.Helper()
		if err := protocol.SignServiceSet(s, keys...); err != nil {
			t.Fatal(err)
		}
		out, err := protocol.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	d1 := desired(id, 1, templatedAlloc("a1", "noop"))
	protocol.SignDesired(d1, privs[0])
	b.publish(topics.Service("api"), signedSet(apiSet(5, "10.0.0.5"), privs[0]), true)
	b.publish(topics.Desired(id), d1, true)
	waitRendered(t, dir, "a1", "10.0.0.5:8080")

	// The thief jumps the index; central's next set is then "older".
	b.publish(topics.Service("api"), signedSet(apiSet(1<<62, "10.6.6.6"), privs[0]), true)
	waitRendered(t, dir, "a1", "10.6.6.6:8080")
	b.publish(topics.Service("api"), signedSet(apiSet(6, "10.0.0.6"), privs[0]), true)
	eventually(t, 10*time.Second, func() error {
		if c := a.Counters(); c.SvcStale != 1 {
			return fmt.Errorf("stale service sets %d, want 1", c.SvcStale)
		}
		return nil
	})

	// Central rotates to key 2 and publishes (key 2 first, key 1
	// co-signing) its service set, retained, and a desired state.
	central.setChain(chain)
	b.publish(topics.Service("api"), signedSet(apiSet(7, "10.0.0.7"), privs[1], privs[0]), true)
	d2 := desired(id, 2, templatedAlloc("a1", "noop"))
	protocol.SignDesired(d2, privs[1], privs[0])
	b.publish(topics.Desired(id), d2, true)
	waitRendered(t, dir, "a1", "10.0.0.7:8080")
	if !a.pinned.key().Equal(ed25519.PublicKey(chain[1].PublicKey)) {
		t.Fatal("the agent did not pin key 2")
	}

	// The stolen key alone moves nothing any more.
	bad := a.Counters().BadSignature
	b.publish(topics.Service("api"), signedSet(apiSet(1<<62+1, "10.6.6.7"), privs[0]), true)
	eventually(t, 10*time.Second, func() error {
		if a.Counters().BadSignature == bad {
			return fmt.Errorf("the thief's second set not refused yet")
		}
		return nil
	})
	if got := renderedFile(dir, "a1"); got != "10.0.0.7:8080" {
		t.Fatalf("template rendered %q, want central's 10.0.0.7:8080", got)
	}
}
