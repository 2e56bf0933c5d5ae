package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMQTTExportAuthFormats: -format nats writes tether-auth.conf from GET
// /v1/security/nats (mode 0600), the default writes Mosquitto's two files,
// and an unknown format is refused naming the two it knows.
func TestMQTTExportAuthFormats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/security/nats":
			json.NewEncoder(w).Encode(map[string]string{"conf": "authorization { users: [] }\n"})
		case "/v1/security/mosquitto":
			json.NewEncoder(w).Encode(map[string]string{"password_file": "pw\n", "acl_file": "acl\n"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	env := func(k string) string {
		if k == "CENTRAL_ADDR" {
			return srv.URL
		}
		return ""
	}
	run := func(args ...string) (int, string) {
		var out, errOut syncBuffer
		code := Run(args, &out, &errOut, env)
		return code, out.String() + errOut.String()
	}
	dir := t.TempDir()
	if code, out := run("mqtt", "export-auth", "-format", "nats", "-dir", dir); code != 0 || !strings.Contains(out, `include "tether-auth.conf"`) {
		t.Fatalf("-format nats: exit %d: %s", code, out)
	}
	st, err := os.Stat(filepath.Join(dir, "tether-auth.conf"))
	if b, _ := os.ReadFile(filepath.Join(dir, "tether-auth.conf")); err != nil || string(b) != "authorization { users: [] }\n" || st.Mode().Perm() != 0o600 {
		t.Fatalf("tether-auth.conf: %v %q", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "acl_file")); err == nil {
		t.Fatal("-format nats also wrote Mosquitto's files")
	}
	if code, out := run("mqtt", "export-auth", "-dir", dir); code != 0 || !strings.Contains(out, "acl_file") {
		t.Fatalf("default format: exit %d: %s", code, out)
	}
	if code, out := run("mqtt", "export-auth", "-format", "vernemq", "-dir", dir); code != exitUsage || !strings.Contains(out, "use mosquitto or nats") {
		t.Fatalf("-format vernemq: exit %d: %s", code, out)
	}
}
