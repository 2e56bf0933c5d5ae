package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `central dev` runs everything on loopback, so its agent may fetch
// artifacts from a server on the same machine; central's own API stays
// refused (the dev agent knows it through -central).
func TestDevAgentArtifactsFromLoopbackButNotCentral(t *testing.T) {
	work := t.TempDir()
	script := []byte(fmt.Sprintf("#!/bin/sh\necho $$ > %[1]s/pid-$1\necho ran > %[1]s/ran-$1\nexec sleep 3600\n", work))
	sum := sha256.Sum256(script)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(script) }))
	defer srv.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	other := sha256.Sum256([]byte("not central's answer"))
	good := artifactJob(t, work, "good", srv.URL+"/tool.sh", hex.EncodeToString(sum[:]))
	central := artifactJob(t, work, "central", "http://"+addr+"/v1/jobs", hex.EncodeToString(other[:]))
	// Runs after dev has stopped its jobs (cleanups run last-in first-out):
	// only if it could not.
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(work, "pid-good")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	start(t, "central dev", bins.central, "dev", "-http", addr, "-mqtt", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"-data-dir", filepath.Join(work, "data"), "-agent", bins.agent, "-job", good)
	eventually(t, 60*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(work, "ran-good")); err != nil {
			return fmt.Errorf("the artifact from the loopback server did not run: %v", err)
		}
		return nil
	})
	c := &cluster{t: t, http: addr}
	if out, code := c.cli("job", "submit", "-detach", central); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var allocID string
	eventually(t, 30*time.Second, func() error {
		var as []alloc
		if err := c.get("/v1/job/central/allocations", &as); err != nil {
			return err
		}
		if len(as) != 1 || as[0].ClientStatus != "failed" {
			return fmt.Errorf("allocations: %+v", as)
		}
		allocID = as[0].ID
		return nil
	})
	if out, _ := c.cli("alloc", "status", allocID); !strings.Contains(out, "central's API or a broker") {
		t.Errorf("alloc status does not say central's API was refused:\n%s", out)
	}
}
