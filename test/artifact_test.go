package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A task's artifact is downloaded over HTTP, verified and run; a job whose
// checksum does not match fails with a clear event and runs nothing.
func TestArtifactDownloadedVerifiedAndRun(t *testing.T) {
	work := t.TempDir()
	script := []byte(fmt.Sprintf("#!/bin/sh\necho ran > %s/ran-$1\nexec sleep 3600\n", work))
	sum := sha256.Sum256(script)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(script) }))
	defer srv.Close()

	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	job := func(name, checksum string) string {
		p := filepath.Join(work, name+".hcl")
		os.WriteFile(p, []byte(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      artifact {
        source   = "%s/tool.sh"
        checksum = "sha256:%s"
      }
      config {
        command = "/bin/sh"
        args    = ["local/tool.sh", %q]
      }
    }
  }
}
`, name, srv.URL, checksum, name)), 0o644)
		return p
	}

	if out, code := c.cli("job", "submit", job("good", hex.EncodeToString(sum[:]))); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 20*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(work, "ran-good")); err != nil {
			return fmt.Errorf("the downloaded tool did not run: %v", err)
		}
		return nil
	})

	wrong := strings.Repeat("0", 64)
	if out, code := c.cli("job", "submit", "-detach", job("bad", wrong)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var allocID string
	eventually(t, 20*time.Second, func() error {
		as := c.allocs("bad")
		if len(as) != 1 || as[0].ClientStatus != "failed" {
			return fmt.Errorf("allocations: %+v", as)
		}
		allocID = as[0].ID
		return nil
	})
	out, _ := c.cli("alloc", "status", allocID)
	if !strings.Contains(out, "Failed Artifact Download") || !strings.Contains(out, "checksum") {
		t.Errorf("alloc status does not explain the failed download:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "ran-bad")); err == nil {
		t.Fatal("a task whose artifact failed its checksum ran")
	}
}
