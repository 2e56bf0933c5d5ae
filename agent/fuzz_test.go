package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/protocol"
)

// FuzzEnrolmentFile reads data_dir/enrolment.json as the agent does at
// start: a damaged file is refused with an error that names it, and an
// accepted one has a node id usable in a topic, a login and a signing key.
func FuzzEnrolmentFile(f *testing.F) {
	good, _ := json.Marshal(&Enrolment{NodeID: "2b0c8f1e-node", MQTTUsername: "2b0c8f1e-node", MQTTPassword: "pw",
		SigningPublicKey: make([]byte, ed25519.PublicKeySize)})
	f.Add(good)
	f.Add([]byte(`{"node_id":"a/b","mqtt_username":"u","signing_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	path := filepath.Join(dir, EnrolmentFile)
	cfg := config.Default()
	cfg.DataDir = dir
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := loadOrEnrol(context.Background(), &cfg)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name %s: %v", path, err)
			}
			return
		}
		if e == nil || !protocol.ValidID(e.NodeID) || e.MQTTUsername == "" || len(e.SigningPublicKey) != ed25519.PublicKeySize {
			t.Fatalf("accepted enrolment %+v", e)
		}
	})
}
