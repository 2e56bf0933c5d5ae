package allocrunner

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-edge/tether/agent/artifact"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// An artifact's source and destination use the node's attributes and the
// task's runtime variables, as on Nomad: app-${attr.cpu.arch} downloads
// app-arm on this node, into ${NOMAD_TASK_DIR}/bin and
// ${NOMAD_ALLOC_DIR}/data.
func TestArtifactInterpolated(t *testing.T) {
	body := []byte("#!/bin/sh\n")
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/app-arm" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Mode: "fail"})
	alloc.Tasks[0].Artifacts = []protocol.Artifact{
		{Source: srv.URL + "/app-${attr.cpu.arch}", Destination: "${NOMAD_TASK_DIR}/bin/", Checksum: "sha256:" + hex.EncodeToString(sum[:])},
		{Source: srv.URL + "/app-${attr.cpu.arch}", Destination: "${NOMAD_ALLOC_DIR}/data/", Checksum: "sha256:" + hex.EncodeToString(sum[:])},
	}
	h := startRunnerOpts(t, alloc, fake.New(), newMemStore(), nil, nil, func(c *Config) {
		c.Artifacts = artifact.New(artifact.Options{
			CacheDir:      t.TempDir(),
			AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		})
	})
	h.waitStatus(protocol.AllocRunning)
	for _, p := range []string{"t/local/bin/app-arm", "alloc/data/app-arm"} {
		if b, err := os.ReadFile(filepath.Join(h.runner.AllocDir(), p)); err != nil || string(b) != string(body) {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}

func TestRelativeDest(t *testing.T) {
	const alloc, task = "/data/allocs/a1", "/data/allocs/a1/t"
	for _, tc := range []struct{ in, want string }{
		{"local/", "local/"},
		{"../alloc/x", "../alloc/x"},
		{"/data/allocs/a1/t/local/bin/", "local/bin/"},
		{"/data/allocs/a1/t/local/app", "local/app"},
		{"/data/allocs/a1/alloc/data/", "../alloc/data/"},
		{"/data/allocs/a1/alloc", "../alloc/."},
		{"/data/allocs/a1/other/x", "/data/allocs/a1/other/x"}, // left for the fetcher to refuse
		{"/etc/passwd", "/etc/passwd"},
	} {
		if got := relativeDest(tc.in, alloc, task); got != tc.want {
			t.Errorf("relativeDest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
