package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/upgrade"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// startEnrolledAgent runs an agent of version that pinned pub (an
// enrolment file written beforehand) on broker b.
func startEnrolledAgent(t *testing.T, b *testBroker, pub ed25519.PublicKey, version string) (*runningAgent, string) {
	t.Helper()
	dir := t.TempDir()
	enr, _ := json.Marshal(Enrolment{NodeID: "up-1", MQTTUsername: "up-1", MQTTPassword: "pw", SigningPublicKey: pub})
	if err := os.WriteFile(filepath.Join(dir, EnrolmentFile), enr, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: testConfig(dir, b.url()), Drivers: []drivers.Driver{fake.New()}, Logger: quietLogger(),
		Version: version, FingerprintRoot: "fingerprint/testdata/pi4", RetryInterval: 50 * time.Millisecond,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() { r.stop(t) })
	return r, dir
}

// hellos decodes the hellos the node sent so far.
func hellos(t *testing.T, b *testBroker, node string) []protocol.Hello {
	var out []protocol.Hello
	for _, p := range b.received(topics.Hello(node)) {
		var h protocol.Hello
		if err := protocol.Decode(p, &h); err != nil {
			t.Fatalf("bad hello: %v", err)
		}
		out = append(out, h)
	}
	return out
}

func order(t *testing.T, priv ed25519.PrivateKey, version string, body []byte, url string) *protocol.AgentUpgrade {
	sum := sha256.Sum256(body)
	u := &protocol.AgentUpgrade{Version: version, Target: upgrade.Target(), SHA256: sum[:], Size: int64(len(body)),
		URLs: []string{url}, RolloutID: "r-" + version, HealthWindowMs: 10_000}
	var err error
	if u.ReleaseSig, err = protocol.SignRelease(u.Manifest(), priv); err != nil {
		t.Fatal(err)
	}
	return u
}

// An agent refuses an older version, a release for another target, and a
// binary whose hash does not match the signed release, before anything runs: it reports why in its
// hello (UpgradeFailed), keeps running, and does not try that order again.
func TestUpgradeOrdersRefused(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	b := startBroker(t, "127.0.0.1:0")
	good := bytes.Repeat([]byte("agent "), 10_000)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(append([]byte("tampered "), good[9:]...))
	}))
	defer srv.Close()
	r, dir := startEnrolledAgent(t, b, pub, "1.0.0")
	eventually(t, 10*time.Second, func() error {
		hs := hellos(t, b, "up-1")
		if len(hs) == 0 {
			return fmt.Errorf("no hello")
		}
		if hs[0].Attributes[protocol.AttrUpgrade] != "1" || hs[0].UpgradeFailed != nil || hs[0].Reattached {
			return fmt.Errorf("first hello: upgrade attribute %q, failure %+v, reattached %v (want only the attribute)",
				hs[0].Attributes[protocol.AttrUpgrade], hs[0].UpgradeFailed, hs[0].Reattached)
		}
		return nil
	})
	index := uint64(1)
	send := func(u *protocol.AgentUpgrade) {
		t.Helper()
		d := desired("up-1", index)
		index++
		d.Upgrade = u
		if err := protocol.SignDesired(d, priv); err != nil {
			t.Fatal(err)
		}
		b.publish(topics.Desired("up-1"), d, true)
	}
	lastFailure := func(version, reason string) func() error {
		return func() error {
			hs := hellos(t, b, "up-1")
			f := hs[len(hs)-1].UpgradeFailed
			if f == nil || f.Version != version || !strings.Contains(f.Reason, reason) || f.RolledBack {
				return fmt.Errorf("last hello's failure %+v, want %s refused for %q", f, version, reason)
			}
			return nil
		}
	}

	send(order(t, priv, "0.9.0", good, srv.URL+"/a"))
	eventually(t, 10*time.Second, lastFailure("0.9.0", "older"))
	if hits.Load() != 0 {
		t.Fatal("an older version was downloaded")
	}

	other := order(t, priv, "1.0.5", good, srv.URL+"/a")
	for _, tg := range protocol.Targets {
		if tg != upgrade.Target() {
			other.Target = tg
			break
		}
	}
	other.ReleaseSig, _ = protocol.SignRelease(other.Manifest(), priv)
	send(other)
	eventually(t, 10*time.Second, lastFailure("1.0.5", "built for"))
	if hits.Load() != 0 {
		t.Fatal("a binary for another target was downloaded")
	}

	tampered := order(t, priv, "1.1.0", good, srv.URL+"/a")
	send(tampered)
	eventually(t, 10*time.Second, lastFailure("1.1.0", "SHA-256"))
	if left, _ := filepath.Glob(filepath.Join(dir, "upgrade", "agent-1.1.0-*")); len(left) > 0 {
		t.Fatalf("tampered download kept: %v", left)
	}
	// The same order again (a newer desired state) is not tried again.
	n := hits.Load()
	send(tampered)
	eventually(t, 10*time.Second, func() error {
		if r.Counters().Applied < 4 {
			return fmt.Errorf("applied %d desired states", r.Counters().Applied)
		}
		return nil
	})
	if hits.Load() != n {
		t.Fatal("an order that failed was tried again for the same rollout")
	}
	select {
	case <-r.done:
		t.Fatalf("the agent stopped: %v", r.err)
	default:
	}
	s, _ := upgrade.LoadState(upgrade.StatePath(filepath.Join(dir, "upgrade")))
	if s == nil || s.Phase != upgrade.PhaseRefused {
		t.Fatalf("state %+v", s)
	}
}

// A verified binary makes Run return UpgradeReady (the command then swaps
// and execs it); an agent without a pinned key never advertises upgrades.
func TestUpgradeVerifiedBinaryStopsRun(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	b := startBroker(t, "127.0.0.1:0")
	body := bytes.Repeat([]byte("new agent "), 5_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	r, _ := startEnrolledAgent(t, b, pub, "dev")
	eventually(t, 10*time.Second, func() error {
		if len(hellos(t, b, "up-1")) == 0 {
			return fmt.Errorf("no hello")
		}
		return nil
	})
	d := desired("up-1", 1)
	d.Upgrade = order(t, priv, "1.1.0", body, srv.URL+"/a")
	protocol.SignDesired(d, priv)
	b.publish(topics.Desired("up-1"), d, true)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop for the upgrade")
	}
	up, ok := r.err.(*UpgradeReady)
	if !ok || up.Plan.Order.Version != "1.1.0" || up.Plan.From != "dev" {
		t.Fatalf("Run returned %v", r.err)
	}
	if got, _ := os.ReadFile(up.Plan.Binary); !bytes.Equal(got, body) {
		t.Fatal("planned binary differs")
	}
	r.err = nil // stop() in the cleanup

	plain := startAgent(t, t.TempDir(), b.url(), fake.New())
	eventually(t, 10*time.Second, func() error {
		hs := hellos(t, b, plain.NodeID())
		if len(hs) == 0 {
			return fmt.Errorf("no hello")
		}
		if _, ok := hs[0].Attributes[protocol.AttrUpgrade]; ok {
			return fmt.Errorf("an agent without a pinned key advertises upgrades")
		}
		return nil
	})
}
