package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// rotatingCentral enrols with key 1 and serves a key chain the test sets.
type rotatingCentral struct {
	srv   *httptest.Server
	hits  atomic.Int64 // GET /v1/security/keyring
	mu    sync.Mutex
	chain []protocol.KeyLink
}

func newRotatingCentral(t *testing.T, first ed25519.PublicKey) *rotatingCentral {
	c := &rotatingCentral{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/enroll":
			json.NewEncoder(w).Encode(Enrolment{NodeID: "enrolled-1", MQTTUsername: "enrolled-1", MQTTPassword: "pw", SigningPublicKey: first})
		case "/v1/security/keyring":
			c.hits.Add(1)
			c.mu.Lock()
			defer c.mu.Unlock()
			json.NewEncoder(w).Encode(c.chain)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *rotatingCentral) setChain(chain []protocol.KeyLink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chain = chain
}

// keyChain makes n keys, key i+1 endorsed by key i.
func keyChain(t *testing.T, n int) ([]ed25519.PrivateKey, []protocol.KeyLink) {
	t.Helper()
	var privs []ed25519.PrivateKey
	var chain []protocol.KeyLink
	for i := 0; i < n; i++ {
		pub, priv, _ := ed25519.GenerateKey(nil)
		l := protocol.KeyLink{Index: uint64(i + 1), PublicKey: pub}
		if i > 0 {
			l.Endorsement, _ = protocol.EndorseKey(privs[i-1], l.Index, pub)
		}
		privs, chain = append(privs, priv), append(chain, l)
	}
	return privs, chain
}

func storedKey(t *testing.T, dir string) []byte {
	t.Helper()
	p := filepath.Join(dir, EnrolmentFile)
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("enrolment file: %v, mode %v; want 0600", err, st.Mode())
	}
	b, _ := os.ReadFile(p)
	var e Enrolment
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.SigningPublicKey
}

// An agent enrolled under key 1 follows three rotations through the key
// chain; a chain with a forged link changes nothing; fetches are
// rate-limited.
func TestAgentFollowsKeyRotation(t *testing.T) {
	privs, chain := keyChain(t, 4)
	central := newRotatingCentral(t, chain[0].PublicKey)
	central.setChain(chain)
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	cfg := testConfig(dir, b.url())
	cfg.JoinToken, cfg.Central = "jt", central.srv.URL
	a, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval: 50 * time.Millisecond, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	id := a.NodeID()
	eventually(t, 10*time.Second, func() error {
		if len(b.received(topics.Hello(id))) == 0 {
			return fmt.Errorf("no hello")
		}
		return nil
	})

	// After three rotations central signs with key 4, co-signed by key 3.
	d := desired(id, 10, serviceAlloc("rotated", nil))
	protocol.SignDesired(d, privs[3], privs[2])
	b.publish(topics.Desired(id), d, true)
	waitStatus(t, b, id, "rotated", protocol.AllocRunning)
	if got := a.pinned.key(); !got.Equal(ed25519.PublicKey(chain[3].PublicKey)) {
		t.Fatal("the agent did not pin key 4")
	}
	if got := storedKey(t, dir); !bytes.Equal(got, chain[3].PublicKey) {
		t.Fatal("enrolment.json does not hold key 4")
	}
	if c := a.Counters(); c.BadSignature != 1 || c.BadKeyChain != 0 || central.hits.Load() != 1 {
		t.Fatalf("counters %+v, fetches %d; want one bad signature (before the re-pin) and one fetch", c, central.hits.Load())
	}

	// An attacker's key 5, "endorsed" by the attacker, signs a desired state.
	atkPub, atkPriv, _ := ed25519.GenerateKey(nil)
	atkEnd, _ := protocol.EndorseKey(atkPriv, 5, atkPub)
	central.setChain(append(chain[:4:4], protocol.KeyLink{Index: 5, PublicKey: atkPub, Endorsement: atkEnd}))
	a.pinned.mu.Lock()
	a.pinned.every = 0 // the next unknown key fetches at once
	a.pinned.mu.Unlock()
	forged := desired(id, 11, serviceAlloc("forged", nil))
	protocol.SignDesired(forged, atkPriv)
	b.publish(topics.Desired(id), forged, false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.BadKeyChain != 1 {
			return fmt.Errorf("bad key chains %d, want 1", c.BadKeyChain)
		}
		return nil
	})
	if !a.pinned.key().Equal(ed25519.PublicKey(chain[3].PublicKey)) || !bytes.Equal(storedKey(t, dir), chain[3].PublicKey) {
		t.Fatal("a forged chain changed the pinned key")
	}

	// Within the interval another unknown key fetches nothing.
	a.pinned.mu.Lock()
	a.pinned.every = time.Hour
	a.pinned.mu.Unlock()
	hits := central.hits.Load()
	b.publish(topics.Desired(id), forged, false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.BadSignature != 3 {
			return fmt.Errorf("bad signatures %d, want 3", c.BadSignature)
		}
		return nil
	})
	if got := central.hits.Load(); got != hits {
		t.Fatalf("%d key chain fetches within the rate limit, want 0", got-hits)
	}
	if n := drv.Starts("forged/t"); n != 0 {
		t.Fatalf("the forged alloc started %d times", n)
	}
	// Key 4 still works.
	d = desired(id, 12, serviceAlloc("rotated", nil), serviceAlloc("after", nil))
	protocol.SignDesired(d, privs[3])
	b.publish(topics.Desired(id), d, true)
	waitStatus(t, b, id, "after", protocol.AllocRunning)
}

// While the chain is fetched, held messages pile up in order (a forged one
// does not push out central's) within their bounds, and all go back
// through verification after the re-pin.
func TestKeyPinHoldsAndRedelivers(t *testing.T) {
	_, chain := keyChain(t, 2)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		json.NewEncoder(w).Encode(chain)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, EnrolmentFile)
	b, _ := json.Marshal(Enrolment{NodeID: "n", MQTTUsername: "n", MQTTPassword: "pw", SigningPublicKey: chain[0].PublicKey})
	os.WriteFile(path, b, 0o600)

	var mu sync.Mutex
	var got []string
	p := newKeyPin(path, srv.URL, chain[0].PublicKey, srv.Client(), quietLogger(), nil)
	p.redeliver = func(topic string, payload []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, topic+"="+string(payload))
		return true
	}
	p.unknownKey("d", []byte("central"))
	p.unknownKey("d", []byte("forged"))
	p.unknownKey("svc", []byte("web"))
	close(release)
	want := []string{"d=central", "d=forged", "svc=web"}
	eventually(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("redelivered %q, want %q", got, want)
		}
		return nil
	})
	if !p.key().Equal(ed25519.PublicKey(chain[1].PublicKey)) {
		t.Fatal("key 2 not pinned")
	}
}

func TestKeyPinHoldsWithinBounds(t *testing.T) {
	p := newKeyPin("", "http://127.0.0.1:1", nil, http.DefaultClient, quietLogger(), nil)
	p.fetching = true // no fetch: only the holding is under test
	for i := 0; i < maxHeld+5; i++ {
		p.unknownKey("svc", []byte(fmt.Sprint(i)))
	}
	p.mu.Lock()
	if len(p.held) != maxHeld || string(p.held[0].payload) != "5" {
		t.Fatalf("held %d messages from %q; want the newest %d", len(p.held), p.held[0].payload, maxHeld)
	}
	p.mu.Unlock()
	big := make([]byte, maxHeldBytes/3+1)
	for i := 0; i < 5; i++ {
		p.unknownKey("d", big)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heldSize > maxHeldBytes || len(p.held) != 2 {
		t.Fatalf("held %d messages, %d bytes; want 2 within %d", len(p.held), p.heldSize, maxHeldBytes)
	}
}
