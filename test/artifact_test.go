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
// checksum does not match fails with a clear event and runs nothing. So do
// a job whose artifact is central's own API (even with loopback allowed)
// and one with a file:// source on an agent without artifact_file_paths.
func TestArtifactDownloadedVerifiedAndRun(t *testing.T) {
	work := t.TempDir()
	script := []byte(fmt.Sprintf("#!/bin/sh\necho ran > %s/ran-$1\nexec sleep 3600\n", work))
	sum := sha256.Sum256(script)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(script) }))
	defer srv.Close()

	c := startCentral(t, clusterOpts{})
	// The test's file server is on loopback, which artifact downloads may
	// reach only when the agent's config allows it.
	c.startAgent("edge-1", "-artifact-allow-network", "127.0.0.0/8", "-central", "http://"+c.http)
	c.waitNode("edge-1", "ready", 20*time.Second)
	job := func(name, checksum string) string { return artifactJob(t, work, name, srv.URL+"/tool.sh", checksum) }

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

	for _, tc := range []struct{ name, source, want string }{
		{"central-api", "http://" + c.http + "/v1/jobs", "central's API or a broker"},
		{"local-file", "file://" + filepath.Join(work, "good.hcl"), "artifact_file_paths"},
	} {
		// A checksum of its own: the good job's would be a cache hit, with
		// no request at all.
		other := sha256.Sum256([]byte(tc.name))
		if out, code := c.cli("job", "submit", "-detach", artifactJob(t, work, tc.name, tc.source, hex.EncodeToString(other[:]))); code != 0 {
			t.Fatalf("submit exited %d:\n%s", code, out)
		}
		eventually(t, 20*time.Second, func() error {
			as := c.allocs(tc.name)
			if len(as) != 1 || as[0].ClientStatus != "failed" {
				return fmt.Errorf("allocations: %+v", as)
			}
			allocID = as[0].ID
			return nil
		})
		if out, _ := c.cli("alloc", "status", allocID); !strings.Contains(out, "Failed Artifact Download") || !strings.Contains(out, tc.want) {
			t.Errorf("%s: alloc status does not explain the refused download (want %q):\n%s", tc.name, tc.want, out)
		}
		if _, err := os.Stat(filepath.Join(work, "ran-"+tc.name)); err == nil {
			t.Fatalf("%s: a task whose artifact was refused ran", tc.name)
		}
	}
}

// artifactJob writes a job file whose exec task downloads source and runs
// it with /bin/sh.
func artifactJob(t *testing.T, work, name, source, checksum string) string {
	t.Helper()
	p := filepath.Join(work, name+".hcl")
	os.WriteFile(p, []byte(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "exec"
      artifact {
        source   = "%s"
        checksum = "sha256:%s"
      }
      config {
        command = "/bin/sh"
        args    = ["local/tool.sh", %q]
      }
    }
  }
}
`, name, source, checksum, name)), 0o644)
	return p
}
