package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func aclTestServer(t *testing.T) *Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		DevMode: true, ACL: true,
	}, logger, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 10*time.Second, func() error {
		if s.currentLeader() == nil {
			return fmt.Errorf("not leader yet")
		}
		return nil
	})
	return s
}

func aclReq(t *testing.T, s *Server, method, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.HTTPAddr()+path, nil)
	if token != "" {
		req.Header.Set("X-Tether-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestACLOperatorEndpointsAndBootstrapReset(t *testing.T) {
	s := aclTestServer(t)
	code, body := aclReq(t, s, "POST", "/v1/acl/bootstrap", "")
	if code != 200 {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	var tok struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &tok)

	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/operator/raft/configuration"},
		{"GET", "/v1/operator/snapshot"},
		{"DELETE", "/v1/operator/raft/peer?id=nope"},
	} {
		code, body := aclReq(t, s, c.method, c.path, "")
		if code != 403 || !strings.Contains(body, "operator") {
			t.Errorf("%s %s without token: %d %s, want 403 naming operator", c.method, c.path, code, body)
		}
	}
	if code, body := aclReq(t, s, "GET", "/v1/operator/raft/configuration", tok.SecretID); code != 200 {
		t.Errorf("raft configuration with the management token: %d %s", code, body)
	}
	if code, body := aclReq(t, s, "GET", "/v1/operator/snapshot", tok.SecretID); code != 200 {
		t.Errorf("snapshot save with the management token: %d %.200s", code, body)
	}

	// A second bootstrap names the reset index; the reset file allows one more.
	code, body = aclReq(t, s, "POST", "/v1/acl/bootstrap", "")
	if code != 400 || !strings.Contains(body, "reset index") {
		t.Fatalf("second bootstrap: %d %s", code, body)
	}
	idx := s.store.ACLBootstrapIndex()
	reset := filepath.Join(s.cfg.DataDir, ACLResetFile)
	if err := os.WriteFile(reset, []byte(strconv.FormatUint(idx, 10)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := aclReq(t, s, "POST", "/v1/acl/bootstrap", ""); code != 200 {
		t.Fatalf("bootstrap with the reset file: %d %s", code, body)
	}
	if _, err := os.Stat(reset); !os.IsNotExist(err) {
		t.Errorf("reset file not removed after use: %v", err)
	}
	if code, _ := aclReq(t, s, "POST", "/v1/acl/bootstrap", ""); code != 400 {
		t.Errorf("third bootstrap without a new reset file: %d, want 400", code)
	}
}
