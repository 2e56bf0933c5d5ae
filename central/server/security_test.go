package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/protocol"
)

func authServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: 10 * time.Second, HeartbeatGrace: -1, DevMode: true, MQTTAuth: true,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 10*time.Second, func() error {
		if s.currentLeader() == nil || !s.currentLeader().gw.Connected() {
			return fmt.Errorf("not leading with a connected gateway yet")
		}
		return nil
	})
	return s
}

func httpJSON(t *testing.T, method, url string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func mqttConnect(url, user, pw string) (paho.Client, error) {
	id := fmt.Sprintf("t-%d", time.Now().UnixNano())
	if user != "" {
		id = user // the broker ties client IDs to logins
	}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword(pw)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	tok.WaitTimeout(5 * time.Second)
	return c, tok.Error()
}

func TestEnrolAuthenticatedBrokerAndSignedDesired(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	if _, err := mqttConnect(s.BrokerURLs()[0], "", ""); err == nil {
		t.Fatal("the broker let an anonymous client in")
	}
	var enr EnrollResponse
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: "guess", Name: "n"}, &enr); code != http.StatusForbidden {
		t.Fatalf("enrol with a made-up token: %d", code)
	}
	var jt JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt); code != http.StatusOK || jt.Secret == "" {
		t.Fatalf("create join token: %d", code)
	}
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: jt.Secret, Name: "pi"}, &enr); code != http.StatusOK {
		t.Fatalf("enrol: %d", code)
	}
	if enr.NodeID == "" || enr.MQTTPassword == "" || len(enr.SigningPublicKey) != ed25519.PublicKeySize {
		t.Fatalf("enrolment %+v", enr)
	}
	if _, err := mqttConnect(s.BrokerURLs()[0], enr.MQTTUsername, "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	c, err := mqttConnect(s.BrokerURLs()[0], enr.MQTTUsername, enr.MQTTPassword)
	if err != nil {
		t.Fatalf("enrolled node cannot connect: %v", err)
	}
	defer c.Disconnect(0)
	tp := protocol.Topics{}
	got := make(chan *protocol.Desired, 16)
	c.Subscribe(tp.Desired(enr.NodeID), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if protocol.Decode(m.Payload(), &d) == nil {
			got <- &d
		}
	}).Wait()
	b, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: enr.NodeID, Name: "pi", Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"}, Resources: protocol.Resources{CPU: 2000, MemoryMB: 1024}})
	c.Publish(tp.Hello(enr.NodeID), 1, false, b).Wait()
	eventually(t, 10*time.Second, func() error {
		if s.store.NodeByID(enr.NodeID) == nil {
			return fmt.Errorf("node not registered")
		}
		return nil
	})
	if _, _, err := s.SubmitJob(context.Background(), testJob(1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case d := <-got:
			if err := protocol.VerifyDesired(d, enr.SigningPublicKey); err != nil {
				t.Fatalf("desired state not signed with the enrolment key: %v", err)
			}
			done = len(d.Allocs) == 1
		case <-deadline:
			t.Fatal("no desired state with the job's alloc")
		}
	}

	// The Mosquitto export lists central and the node.
	var ma MosquittoAuth
	if code := httpJSON(t, "GET", base+"/v1/security/mosquitto", nil, &ma); code != http.StatusOK {
		t.Fatalf("export: %d", code)
	}
	if !strings.Contains(ma.PasswordFile, enr.NodeID+":$7$") || !strings.Contains(ma.ACLFile, "topic write tether/v1/node/"+enr.NodeID+"/hello") {
		t.Fatalf("export:\n%s\n%s", ma.PasswordFile, ma.ACLFile)
	}

	// Revoking the node ends its session and its login.
	if code := httpJSON(t, "DELETE", base+"/v1/security/node/"+enr.NodeID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	eventually(t, 5*time.Second, func() error {
		if c.IsConnectionOpen() {
			return fmt.Errorf("revoked node still connected")
		}
		return nil
	})
	if _, err := mqttConnect(s.BrokerURLs()[0], enr.MQTTUsername, enr.MQTTPassword); err == nil {
		t.Fatal("revoked node reconnected")
	}

	// Rotation: the new key signs, the old one co-signs.
	if code := httpJSON(t, "POST", base+"/v1/security/keyring/rotate", nil, nil); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	if kr := s.store.Keyring(); len(kr.Keys) != 2 || !bytes.Equal(kr.Keys[1].Public, enr.SigningPublicKey) {
		t.Fatal("rotation did not keep the old key as co-signer")
	}
}

// httpStatusBody does a request and returns the status and body.
func httpStatusBody(t *testing.T, method, url string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestJoinTokenLifecycle(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	var forever, short JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token?description=kitchen", nil, &forever); code != http.StatusOK || forever.Accessor == "" || forever.Expires != 0 {
		t.Fatalf("create: %d %+v", code, forever)
	}
	if code, body := httpStatusBody(t, "POST", base+"/v1/security/join-token?ttl=-1h", nil); code != http.StatusBadRequest || !strings.Contains(body, "ttl") {
		t.Fatalf("negative ttl: %d %s", code, body)
	}
	if code := httpJSON(t, "POST", base+"/v1/security/join-token?ttl=1ms", nil, &short); code != http.StatusOK || short.Expires == 0 {
		t.Fatalf("create with ttl: %d %+v", code, short)
	}
	eventually(t, 5*time.Second, func() error {
		if time.Now().UnixMilli() < short.Expires {
			return fmt.Errorf("token not expired yet")
		}
		return nil
	})
	code, body := httpStatusBody(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: short.Secret, Name: "late"})
	if code != http.StatusForbidden || !strings.Contains(body, "expired") || !strings.Contains(body, short.Accessor) {
		t.Fatalf("enrol with an expired token: %d %s", code, body)
	}
	var enr EnrollResponse
	for i := 0; i < 2; i++ {
		if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: forever.Secret, Name: "pi"}, &enr); code != http.StatusOK {
			t.Fatalf("enrol %d: %d", i, code)
		}
	}
	var list []JoinTokenInfo
	if code := httpJSON(t, "GET", base+"/v1/security/join-tokens", nil, &list); code != http.StatusOK || len(list) != 2 {
		t.Fatalf("list: %d %+v", code, list)
	}
	if list[0].Accessor != forever.Accessor || list[0].Description != "kitchen" || list[0].Uses != 2 || list[1].Uses != 0 || list[1].Expires != short.Expires {
		t.Fatalf("list %+v", list)
	}
	if code := httpJSON(t, "DELETE", base+"/v1/security/join-token/"+forever.Accessor, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code := httpJSON(t, "DELETE", base+"/v1/security/join-token/"+forever.Accessor, nil, nil); code != http.StatusNotFound {
		t.Fatalf("second delete: %d", code)
	}
	code, body = httpStatusBody(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: forever.Secret, Name: "again"})
	if code != http.StatusForbidden || !strings.Contains(body, "deleted") {
		t.Fatalf("enrol with a deleted token: %d %s", code, body)
	}
	// The node enrolled before the delete keeps its login.
	if s.store.NodeCredential(enr.NodeID) == nil {
		t.Fatal("deleting the join token removed an enrolled node's login")
	}
}

func TestKeyChainEndpoint(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	var jt JoinTokenResponse
	var enr EnrollResponse
	httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt)
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: jt.Secret, Name: "pi"}, &enr); code != http.StatusOK || enr.SigningKeyIndex != 1 {
		t.Fatalf("enrol: %d, key index %d", code, enr.SigningKeyIndex)
	}
	for i := 0; i < 3; i++ {
		if code := httpJSON(t, "POST", base+"/v1/security/keyring/rotate", nil, nil); code != http.StatusOK {
			t.Fatalf("rotate %d: %d", i, code)
		}
	}
	var chain []protocol.KeyLink
	if code := httpJSON(t, "GET", base+"/v1/security/keyring", nil, &chain); code != http.StatusOK || len(chain) != 4 {
		t.Fatalf("keyring: %d, %d links", code, len(chain))
	}
	newest, idx, err := protocol.VerifyKeyChain(enr.SigningPublicKey, chain)
	if err != nil || idx != 4 || !bytes.Equal(newest, s.store.Keyring().Keys[0].Public) {
		t.Fatalf("chain from the enrolment key: index %d err %v", idx, err)
	}
	_, body := httpStatusBody(t, "GET", base+"/v1/security/keyring", nil)
	if strings.Contains(body, "private") {
		t.Fatalf("keyring endpoint leaks private parts: %s", body)
	}
}

func TestJoinAuth(t *testing.T) {
	const secret = "s3cret"
	for _, tc := range []struct {
		name       string
		acl        bool
		secret     string // configured
		header     string // sent join secret
		token      string // sent ACL token
		wantStatus int
	}{
		{"no ACLs, no secret: open as before", false, "", "", "", http.StatusOK},
		{"no ACLs, secret set, none sent", false, secret, "", "", http.StatusForbidden},
		{"no ACLs, secret set, right one sent", false, secret, secret, "", http.StatusOK},
		{"no ACLs, secret set, wrong one sent", false, secret, "guess", "", http.StatusForbidden},
		{"ACLs, no credentials", true, secret, "", "", http.StatusForbidden},
		{"ACLs, right secret", true, secret, secret, "", http.StatusOK},
		{"ACLs, wrong secret", true, secret, "guess", "", http.StatusForbidden},
		{"ACLs, unknown token", true, secret, "", "not-a-token", http.StatusForbidden},
		{"ACLs, no secret configured, one sent", true, "", secret, "", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{ACL: tc.acl, JoinSecret: tc.secret}, store: state.NewStore()}
			h := s.joinAuth(acl.NewResolver(), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
			req := httptest.NewRequest(http.MethodPost, "/v1/operator/raft/join", strings.NewReader("{}"))
			if tc.header != "" {
				req.Header.Set(JoinSecretHeader, tc.header)
			}
			if tc.token != "" {
				req.Header.Set(api.TokenHeader, tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.wantStatus)
			}
			if rec.Code == http.StatusForbidden && !strings.Contains(rec.Body.String(), "join") && !strings.Contains(rec.Body.String(), "token") {
				t.Fatalf("403 does not say what is missing: %s", rec.Body)
			}
		})
	}
}
