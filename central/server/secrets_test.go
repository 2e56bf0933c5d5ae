package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/protocol"
)

// Secrets out of reach of read permissions (docs/security.md, "Secrets in
// snapshots"): snapshot save needs operator write, and neither the
// downloaded snapshot nor anything Raft keeps on disk holds central's
// signing keys or broker password in clear.

func TestSnapshotSaveNeedsOperatorWrite(t *testing.T) {
	s := aclTestServer(t)
	ctx := context.Background()
	pols := []*acl.Policy{
		{Name: "op-read", Rules: `operator { policy = "read" }`},
		{Name: "op-write", Rules: `operator { policy = "write" }`},
	}
	if err := s.UpsertACLPolicies(ctx, pols); err != nil {
		t.Fatal(err)
	}
	toks := []*acl.Token{
		{AccessorID: "r", SecretHash: acl.HashSecret("read-secret"), Type: acl.TypeClient, Policies: []string{"op-read"}},
		{AccessorID: "w", SecretHash: acl.HashSecret("write-secret"), Type: acl.TypeClient, Policies: []string{"op-write"}},
	}
	if err := s.UpsertACLTokens(ctx, toks); err != nil {
		t.Fatal(err)
	}
	if code, body := aclReq(t, s, "GET", "/v1/operator/raft/configuration", "read-secret"); code != 200 {
		t.Fatalf("operator read cannot list peers any more: %d %s", code, body)
	}
	if code, body := aclReq(t, s, "GET", "/v1/operator/snapshot", "read-secret"); code != http.StatusForbidden {
		t.Fatalf("snapshot save with an operator-read token: %d %.200s, want 403", code, body)
	}
	code, body := aclReq(t, s, "GET", "/v1/operator/snapshot", "write-secret")
	if code != 200 || len(body) < len(SnapshotFileMagic) || body[:len(SnapshotFileMagic)] != SnapshotFileMagic {
		t.Fatalf("snapshot save with an operator-write token: %d %.200s", code, body)
	}
}

// openSecrets returns every clear secret of s's keyring: the signing
// keys (and their seeds) and central's broker password.
func openSecrets(t *testing.T, s *Server) [][]byte {
	t.Helper()
	kr := s.store.Keyring()
	if kr == nil {
		t.Fatal("no keyring")
	}
	keys, pw, err := s.secrets.open(kr)
	if err != nil {
		t.Fatal(err)
	}
	if pw == "" || len(keys) == 0 {
		t.Fatalf("keyring opened to %d keys and password %q", len(keys), pw)
	}
	out := [][]byte{[]byte(pw)}
	for _, k := range keys {
		out = append(out, k, k.Seed())
	}
	return out
}

func saveSnapshot(t *testing.T, s *Server) []byte {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/v1/operator/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("snapshot save: %s: %.300s", resp.Status, b)
	}
	return b
}

func TestSnapshotHoldsNoClearSecrets(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	if code := httpJSON(t, "POST", base+"/v1/security/keyring/rotate", nil, nil); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	secrets := openSecrets(t, s)
	if len(secrets) != 5 {
		t.Fatalf("%d secrets, want the password and two keys with their seeds", len(secrets))
	}
	snap := saveSnapshot(t, s)
	if !bytes.Contains(snap, s.store.Keyring().Keys[0].Public) {
		t.Fatal("the snapshot does not hold the keyring at all: the search below proves nothing")
	}
	for i, sec := range secrets {
		if bytes.Contains(snap, sec) {
			t.Errorf("the downloaded snapshot holds secret %d in clear", i)
		}
	}
	// Nor does anything Raft wrote to disk (log, snapshots) hold them.
	err := filepath.WalkDir(s.cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == KEKFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, sec := range secrets {
			if bytes.Contains(b, sec) {
				t.Errorf("%s holds secret %d in clear", path, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// authServerIn is authServer with a given data dir.
func authServerIn(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := New(Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: 10 * time.Second, HeartbeatGrace: -1, DevMode: true, MQTTAuth: true,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	waitSigningLeader(t, s)
	return s
}

// waitSigningLeader waits until s leads with its gateway logged in to a
// broker (a dead server's broker may stay unreachable) and can open its
// signing keys, and checks that central's password opens s's own broker.
func waitSigningLeader(t *testing.T, s *Server) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		l := s.currentLeader()
		if l == nil || l.gw.Connects() == 0 {
			return fmt.Errorf("%s: not leading with a gateway logged in", s.cfg.Name)
		}
		kr := s.store.Keyring()
		keys := s.signingKeys()
		if kr == nil || len(keys) == 0 || !bytes.Equal(keys[0].Public().(ed25519.PublicKey), kr.Keys[0].Public) {
			return fmt.Errorf("%s cannot sign with the active key", s.cfg.Name)
		}
		return nil
	})
	kr := s.store.Keyring()
	_, pw, err := s.secrets.open(kr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mqttConnectAs(s.BrokerURLs()[0], kr.CentralUsername+"-probe", kr.CentralUsername, pw)
	if err != nil {
		t.Fatalf("%s: central's broker password does not open its broker: %v", s.cfg.Name, err)
	}
	c.Disconnect(0)
}

func restoreSnapshot(t *testing.T, s *Server, snap []byte) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+s.HTTPAddr()+"/v1/operator/snapshot", bytes.NewReader(snap))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("restore: %s: %s", resp.Status, b)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// enrolNode enrols a node on s and returns its enrolment.
func enrolNode(t *testing.T, s *Server, name string) EnrollResponse {
	t.Helper()
	base := "http://" + s.HTTPAddr()
	var jt JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt); code != http.StatusOK {
		t.Fatalf("create join token: %d", code)
	}
	var enr EnrollResponse
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: jt.Secret, Name: name}, &enr); code != http.StatusOK {
		t.Fatalf("enrol: %d", code)
	}
	return enr
}

// A snapshot restored onto a fresh cluster whose servers do not hold the
// old cluster's key-encryption key: rotate-on-restore gives the cluster a
// new signing key (a new chain, one index up) and broker password, the
// leader signs and logs in to its broker, and enrolled nodes keep their
// broker logins.
func TestRestoreIntoFreshClusterRotatesKeyring(t *testing.T) {
	old := authServer(t)
	enr := enrolNode(t, old, "pi")
	oldKR := old.store.Keyring()
	snap := saveSnapshot(t, old)

	fresh := authServerIn(t, t.TempDir())
	out := restoreSnapshot(t, fresh, snap)
	if out["keyring_rotated"] != true {
		t.Fatalf("restore answered %v, want keyring_rotated", out)
	}
	waitSigningLeader(t, fresh)
	kr := fresh.store.Keyring()
	if bytes.Equal(kr.Keys[0].Public, oldKR.Keys[0].Public) || kr.KEK != fresh.secrets.ID() {
		t.Fatalf("keyring not rotated: %+v", kr)
	}
	if kr.ActiveIndex() != oldKR.ActiveIndex()+1 {
		t.Errorf("new chain starts at %d, want %d (above the old chain)", kr.ActiveIndex(), oldKR.ActiveIndex()+1)
	}
	if _, _, err := protocol.VerifyKeyChain(enr.SigningPublicKey, kr.KeyChain()); err == nil {
		t.Error("the old key vouches for the new chain: agents would follow a key no one endorsed")
	}
	c, err := mqttConnectID(fresh.BrokerURLs()[0], enr.MQTTUsername, enr.MQTTPassword)
	if err != nil {
		t.Fatalf("a node enrolled before the snapshot cannot log in to the restored cluster's broker: %v", err)
	}
	c.Disconnect(0)
}

// The documented way to keep the keys: the old cluster's keyring.kek in
// the new server's data dir before it starts. Restore then rotates
// nothing and the old key keeps signing.
func TestRestoreWithCopiedKEKKeepsKeyring(t *testing.T) {
	old := authServer(t)
	oldKR := old.store.Keyring()
	snap := saveSnapshot(t, old)
	kek, err := os.ReadFile(filepath.Join(old.cfg.DataDir, KEKFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KEKFile), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := authServerIn(t, dir)
	if out := restoreSnapshot(t, fresh, snap); out["keyring_rotated"] != nil {
		t.Fatalf("restore rotated the keyring although this server holds its KEK: %v", out)
	}
	waitSigningLeader(t, fresh)
	if kr := fresh.store.Keyring(); !bytes.Equal(kr.Keys[0].Public, oldKR.Keys[0].Public) {
		t.Fatal("the restored cluster signs with another key than the old one")
	}
}

// In a 3-server cluster the followers fetch the KEK from the server that
// made it, so whichever server leads next opens the keyring, signs and
// logs in to its broker.
func TestKEKReachesFollowersAndNewLeaderSigns(t *testing.T) {
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var servers []*Server
	for i := range addrs {
		var join []string
		for j, a := range addrs {
			if j != i {
				join = append(join, a)
			}
		}
		s, err := New(Config{
			Name: fmt.Sprintf("s%d", i+1), DataDir: t.TempDir(), HTTPAddr: addrs[i], RaftAddr: "127.0.0.1:0",
			MQTTAddr: "127.0.0.1:0", BootstrapExpect: 3, Join: join, DevMode: true, MQTTAuth: true,
			HeartbeatTTL: 10 * time.Second, HeartbeatGrace: -1,
		}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers = append(servers, s)
	}
	leader := leaderOf(t, servers)
	waitSigningLeader(t, leader)
	eventually(t, 30*time.Second, func() error {
		for _, s := range servers {
			kr := s.store.Keyring()
			if kr == nil || kr.KEK != s.secrets.ID() {
				return fmt.Errorf("%s does not hold the keyring's KEK yet", s.cfg.Name)
			}
		}
		return nil
	})
	// A follower that has not fetched the KEK yet (wiped here, as just
	// after it joined) still serves the Mosquitto export: it fetches the
	// KEK from its peers on demand (the tutorial replay once got a 503).
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	follower.secrets.mu.Lock()
	follower.secrets.key, follower.secrets.id, follower.secrets.opened = nil, "", nil
	follower.secrets.mu.Unlock()
	resp, err := http.Get("http://" + follower.HTTPAddr() + "/v1/security/mosquitto")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("password_file")) {
		t.Fatalf("export through a follower without the KEK: %d %s", resp.StatusCode, body)
	}
	if follower.secrets.ID() != follower.store.Keyring().KEK {
		t.Fatal("the follower did not install the fetched KEK")
	}

	active := leader.store.Keyring().Keys[0].Public
	leader.Close()
	var rest []*Server
	for _, s := range servers {
		if s != leader {
			rest = append(rest, s)
		}
	}
	next := leaderOf(t, rest)
	waitSigningLeader(t, next)
	if !bytes.Equal(next.store.Keyring().Keys[0].Public, active) {
		t.Fatal("the new leader signs with another key")
	}
}

// mqttConnectID logs in with the username as client ID (the broker ties a
// node's client ID to its login).
func mqttConnectID(url, user, pw string) (paho.Client, error) {
	return mqttConnectAs(url, user, user, pw)
}

func mqttConnectAs(url, clientID, user, pw string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword(pw).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	tok.WaitTimeout(5 * time.Second)
	return c, tok.Error()
}

// After a theft of central's broker password, rotate -broker-password
// ends the sessions logged in with it and refuses it; the leader's
// gateway logs in again with the new one.
func TestRotateBrokerPasswordEndsOldSessions(t *testing.T) {
	s := authServer(t)
	kr := s.store.Keyring()
	_, stolen, err := s.secrets.open(kr)
	if err != nil {
		t.Fatal(err)
	}
	atk, err := mqttConnectAs(s.BrokerURLs()[0], kr.CentralUsername+"-attacker", kr.CentralUsername, stolen)
	if err != nil {
		t.Fatalf("the stolen password does not log in before the rotation: %v", err)
	}
	defer atk.Disconnect(0)
	var out map[string]any
	if code := httpJSON(t, "POST", "http://"+s.HTTPAddr()+"/v1/security/keyring/rotate?broker_password=true", nil, &out); code != http.StatusOK || out["broker_password_rotated"] != true {
		t.Fatalf("rotate: %d %v", code, out)
	}
	eventually(t, 10*time.Second, func() error {
		if atk.IsConnectionOpen() {
			return fmt.Errorf("the session with the old password is still open")
		}
		return nil
	})
	if c, err := mqttConnectAs(s.BrokerURLs()[0], kr.CentralUsername+"-attacker", kr.CentralUsername, stolen); err == nil {
		c.Disconnect(0)
		t.Fatal("the old password still logs in")
	}
	eventually(t, 10*time.Second, func() error {
		if l := s.currentLeader(); l == nil || !l.gw.Connected() {
			return fmt.Errorf("the gateway is not logged in again")
		}
		return nil
	})
	waitSigningLeader(t, s)
}

// A keyring written by an older build holds its secrets in clear (as a
// legacy Raft entry or snapshot brings it): the leader seals it when it
// takes office, keeping the keys, and snapshots hold no clear secret.
func TestLegacyClearKeyringSealedByLeader(t *testing.T) {
	s := testServer(t, 10*time.Second)
	pub, priv, _ := ed25519.GenerateKey(nil)
	legacy := &state.Keyring{Keys: []state.SigningKey{{ID: "old", Private: priv, Public: pub}}, CentralUsername: centralMQTTUser, CentralPassword: "legacy-password-in-clear"}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{InitKeyring: legacy}}}}); err != nil {
		t.Fatal(err)
	}
	s.restartLeading()
	eventually(t, 10*time.Second, func() error {
		if kr := s.store.Keyring(); !kr.Sealed() || kr.KEK != s.secrets.ID() {
			return fmt.Errorf("keyring not sealed yet")
		}
		return nil
	})
	if kr := s.store.Keyring(); !bytes.Equal(kr.Keys[0].Public, pub) {
		t.Fatal("sealing changed the signing key")
	}
	keys, pw, err := s.secrets.open(s.store.Keyring())
	if err != nil || !bytes.Equal(keys[0], priv) || pw != "legacy-password-in-clear" {
		t.Fatalf("the sealed keyring does not open to the same secrets: %v", err)
	}
	snap := saveSnapshot(t, s)
	for _, sec := range [][]byte{priv, priv.Seed(), []byte(pw)} {
		if bytes.Contains(snap, sec) {
			t.Fatal("a snapshot taken after sealing holds a legacy secret in clear")
		}
	}
}
