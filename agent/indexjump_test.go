package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// startEnrolled starts an agent in dir that enrols with central (or
// finds its enrolment already there).
func startEnrolled(t *testing.T, dir string, b *testBroker, central *rotatingCentral, drv drivers.Driver) *runningAgent {
	t.Helper()
	cfg := testConfig(dir, b.url())
	cfg.JoinToken, cfg.Central = "jt", central.srv.URL
	a, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval: 50 * time.Millisecond, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

// The attack of issue 22 item 5: with central's signing key (key 1) and
// broker login stolen from a snapshot, an attacker publishes a desired
// state with index 2^62. The node runs it (the key was central's) and,
// as the index is the highest it ever saw, ignores central's real desired
// states. Once central rotates to key 2, the first desired state central
// signs (key 2 first, key 1 co-signing) makes the agent re-pin key 2 and
// replace the held one whatever its index, also across an agent restart;
// the attacker's key 1 alone is refused from then on.
func TestStolenKeyIndexJumpEndsWithRotation(t *testing.T) {
	privs, chain := keyChain(t, 2)
	central := newRotatingCentral(t, chain[0].PublicKey)
	central.setChain(chain[:1])
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startEnrolled(t, dir, b, central, drv)
	id := a.NodeID()
	eventually(t, 10*time.Second, func() error {
		if len(b.received(topics.Hello(id))) == 0 {
			return fmt.Errorf("no hello")
		}
		return nil
	})

	real := desired(id, 10, serviceAlloc("real1", nil))
	protocol.SignDesired(real, privs[0])
	b.publish(topics.Desired(id), real, true)
	waitStatus(t, b, id, "real1", protocol.AllocRunning)

	// The attacker, with key 1, jumps the index.
	evil := desired(id, 1<<62, serviceAlloc("evil", nil))
	protocol.SignDesired(evil, privs[0])
	b.publish(topics.Desired(id), evil, true)
	waitStatus(t, b, id, "evil", protocol.AllocRunning)
	// Central's next desired state (still key 1) is below it: locked out.
	stale := a.Counters().Stale
	next := desired(id, 11, serviceAlloc("real1", nil), serviceAlloc("real2", nil))
	protocol.SignDesired(next, privs[0])
	b.publish(topics.Desired(id), next, true)
	eventually(t, 10*time.Second, func() error {
		if a.Counters().Stale == stale {
			return fmt.Errorf("central's desired state at index 11 not yet seen")
		}
		return nil
	})

	// The agent restarts holding the attacker's desired state.
	a.stop(t)
	a = startEnrolled(t, dir, b, central, drv)
	eventually(t, 10*time.Second, func() error {
		if c := a.Counters(); c.Applied+c.Stale == 0 {
			return fmt.Errorf("the retained desired state not seen yet")
		}
		return nil
	})

	// Central rotates to key 2 and publishes, key 2 first, key 1 co-signing.
	central.setChain(chain)
	rotated := desired(id, 12, serviceAlloc("real1", nil), serviceAlloc("real2", nil))
	protocol.SignDesired(rotated, privs[1], privs[0])
	b.publish(topics.Desired(id), rotated, true)
	waitStatus(t, b, id, "real2", protocol.AllocRunning)
	eventually(t, 10*time.Second, func() error {
		if s := lastStatus(b.updates(id), "evil"); s != protocol.AllocComplete && s != protocol.AllocFailed {
			return fmt.Errorf("the attacker's alloc is %q, want it stopped", s)
		}
		return nil
	})
	if !a.pinned.key().Equal(ed25519.PublicKey(chain[1].PublicKey)) || string(storedKey(t, dir)) != string(chain[1].PublicKey) {
		t.Fatal("the agent did not pin key 2")
	}

	// The attacker's key 1 alone no longer moves the node.
	bad := a.Counters().BadSignature
	again := desired(id, 1<<62+1, serviceAlloc("evil2", nil))
	protocol.SignDesired(again, privs[0])
	b.publish(topics.Desired(id), again, true)
	eventually(t, 10*time.Second, func() error {
		if a.Counters().BadSignature == bad {
			return fmt.Errorf("the attacker's second desired state not refused yet")
		}
		return nil
	})
	// Central still rules: a later desired state of its own applies.
	last := desired(id, 13, serviceAlloc("real1", nil), serviceAlloc("real3", nil))
	protocol.SignDesired(last, privs[1], privs[0])
	b.publish(topics.Desired(id), last, true)
	waitStatus(t, b, id, "real3", protocol.AllocRunning)
	if n := drv.Starts("evil2/t"); n != 0 {
		t.Fatalf("the attacker's second alloc started %d times", n)
	}
}

// A forger holding the active key cannot fake a rotation: a desired state
// whose first signature is made-up and whose second is the pinned key's
// makes the agent fetch the chain, which names no newer key, and the
// message is dropped.
func TestMadeUpFirstSignatureDoesNotPassAsRotation(t *testing.T) {
	privs, chain := keyChain(t, 1)
	central := newRotatingCentral(t, chain[0].PublicKey)
	central.setChain(chain)
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startEnrolled(t, t.TempDir(), b, central, drv)
	id := a.NodeID()
	_, other, _ := ed25519.GenerateKey(nil)
	d := desired(id, 1<<62, serviceAlloc("evil", nil))
	protocol.SignDesired(d, other, privs[0])
	b.publish(topics.Desired(id), d, true)
	eventually(t, 10*time.Second, func() error {
		if central.hits.Load() == 0 {
			return fmt.Errorf("no key chain fetch")
		}
		return nil
	})
	good := desired(id, 5, serviceAlloc("real", nil))
	protocol.SignDesired(good, privs[0])
	b.publish(topics.Desired(id), good, true)
	waitStatus(t, b, id, "real", protocol.AllocRunning)
	if n := drv.Starts("evil/t"); n != 0 {
		t.Fatalf("the forged alloc started %d times", n)
	}
}

// A message held within the rate limit does not wait for another message:
// the fetch put off is made when the interval ends.
func TestKeyPinFetchesWhenTheIntervalEnds(t *testing.T) {
	_, chain := keyChain(t, 2)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		json.NewEncoder(w).Encode(chain[:1]) // no newer key yet
	}))
	t.Cleanup(srv.Close)
	p := newKeyPin("", srv.URL, chain[0].PublicKey, srv.Client(), quietLogger(), nil)
	p.every = 300 * time.Millisecond
	p.redeliver = func(string, []byte) bool { return true }
	p.unknownKey("d", []byte("1"))
	eventually(t, 5*time.Second, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if hits.Load() != 1 || p.fetching {
			return fmt.Errorf("first fetch not done (%d)", hits.Load())
		}
		return nil
	})
	p.unknownKey("d", []byte("2")) // within the interval: put off
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches within the interval, want 1", n)
	}
	eventually(t, 5*time.Second, func() error {
		if n := hits.Load(); n != 2 {
			return fmt.Errorf("%d fetches, want the one put off to run", n)
		}
		return nil
	})
}
