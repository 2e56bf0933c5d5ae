package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// fakeCentral answers POST /v1/enroll for the join token "jt".
func fakeCentral(t *testing.T, pub ed25519.PublicKey) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		if r.URL.Path != "/v1/enroll" || req["join_token"] != "jt" {
			http.Error(w, "unknown join token", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(Enrolment{NodeID: "enrolled-1", MQTTUsername: "enrolled-1", MQTTPassword: "pw", SigningPublicKey: pub})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEnrolAndRejectForgedDesired(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	central := fakeCentral(t, pub)
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()

	cfg := testConfig(dir, b.url())
	cfg.JoinToken, cfg.Central = "bad", central.URL
	if _, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4"}); err == nil {
		t.Fatal("enrolled with an unknown join token")
	}
	cfg.JoinToken = "jt"
	a, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval: 50 * time.Millisecond, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeID() != "enrolled-1" {
		t.Fatalf("node id %q, want the one central issued", a.NodeID())
	}
	st, err := os.Stat(filepath.Join(dir, EnrolmentFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("enrolment file: %v, mode %v; want 0600", err, st.Mode())
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

	// A client with write access to the broker forges desired state:
	// unsigned, then signed with another key.
	b.publish(topics.Desired(id), desired(id, 10, serviceAlloc("forged", nil)), false)
	wrong := desired(id, 11, serviceAlloc("forged", nil))
	protocol.SignDesired(wrong, otherPriv)
	b.publish(topics.Desired(id), wrong, false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.BadSignature != 2 {
			return fmt.Errorf("bad signatures %d, want 2", c.BadSignature)
		}
		return nil
	})

	good := desired(id, 20, serviceAlloc("good", nil))
	protocol.SignDesired(good, priv)
	b.publish(topics.Desired(id), good, true)
	waitStatus(t, b, id, "good", protocol.AllocRunning)
	// A correctly signed but older message (a replay) is not applied.
	old := desired(id, 15, serviceAlloc("forged", nil))
	protocol.SignDesired(old, priv)
	b.publish(topics.Desired(id), old, false)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.Stale != 1 {
			return fmt.Errorf("stale %d, want 1", c.Stale)
		}
		return nil
	})
	if n := drv.Starts("forged/t"); n != 0 {
		t.Fatalf("the forged alloc started %d times", n)
	}
}
