package test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// TestAgentFollowsKeyRotations: an enrolled agent keeps taking work after
// central rotated its signing key three times (it fetches the key chain,
// checks each endorsement from the key it pinned at enrolment and re-pins
// the newest), while a desired state signed by a key outside the chain
// still runs nothing. The embedded broker is anonymous here so that the
// test can publish as an attacker with broker write access.
func TestAgentFollowsKeyRotations(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	out, code := c.cli("node", "join-token", "create", "-description", "rotation test", "-ttl", "1h")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	agent := c.startAgent("a", "-join-token", m[1], "-central", "http://"+c.http)
	n := c.waitNode("a", "ready", 20*time.Second)
	enrolFile := filepath.Join(c.dir, "agent-a", "enrolment.json")
	first := pinnedKey(t, enrolFile)

	for i := 0; i < 3; i++ {
		if out, code := c.cli("operator", "keyring", "rotate"); code != 0 {
			t.Fatalf("rotate %d (exit %d): %s", i, code, out)
		}
	}
	var chain []protocol.KeyLink
	if err := c.get("/v1/security/keyring", &chain); err != nil || len(chain) != 4 {
		t.Fatalf("key chain: %v, %d links; want 4", err, len(chain))
	}
	if !bytes.Equal(chain[0].PublicKey, first) {
		t.Fatal("the chain does not start at the key the agent pinned")
	}

	work := t.TempDir()
	if out, code := c.cli("job", "submit", writerJob(t, work, 1)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	pid := readPid(t, filepath.Join(work, "pid-0"))
	eventually(t, 5*time.Second, func() error {
		if !bytes.Equal(pinnedKey(t, enrolFile), chain[3].PublicKey) {
			return fmt.Errorf("enrolment.json does not pin key 4 yet")
		}
		return nil
	})
	if out, _ := c.cli("node", "join-token", "list"); !strings.Contains(out, "rotation test") || !regexp.MustCompile(`\s1\s*\n`).MatchString(out) {
		t.Fatalf("join-token list does not show the token used once:\n%s", out)
	}

	// An attacker with broker write access signs with its own key.
	_, atk, _ := ed25519.GenerateKey(nil)
	marker := filepath.Join(work, "forged")
	forged := &protocol.Desired{V: protocol.Version, NodeID: n.ID, Index: 1 << 40, Allocs: []protocol.DesiredAlloc{{
		ID: "forged", JobID: "forged", TaskGroup: "g", DesiredStatus: protocol.DesiredRun,
		Tasks: []protocol.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/sh", "args": []any{"-c", "touch " + marker + "; sleep 60"}}}},
	}}}
	if err := protocol.SignDesired(forged, atk); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Encode(forged)
	cl, err := mqttClient(t, c.broker, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.Publish(protocol.Topics{}.Desired(n.ID), 1, false, b).Wait()
	idx := strconv.FormatUint(forged.Index, 10)
	eventually(t, 10*time.Second, func() error {
		if !strings.Contains(agent.out.String(), "index="+idx) {
			return fmt.Errorf("the agent has not dropped the forged desired state yet")
		}
		return nil
	})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the forged desired state ran a task")
	}
	if !pidAlive(pid) {
		t.Fatal("the forged desired state stopped the job")
	}
	if !bytes.Equal(pinnedKey(t, enrolFile), chain[3].PublicKey) {
		t.Fatal("the forged desired state changed the pinned key")
	}
}

func pinnedKey(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e enrolment
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.SigningPublicKey
}
