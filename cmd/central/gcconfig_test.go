package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServerConfigGCKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "central.hcl")
	os.WriteFile(file, []byte(`data_dir = "/tmp/x"
job_gc_threshold = "2h"
acl_token_gc_threshold = "3h"
server {
  job_gc_threshold     = "9h"
  eval_gc_threshold    = "30m"
  node_gc_threshold    = "48h"
  job_tracked_versions = 3
}
`), 0o644)
	cfg, _, _, err := serverFlags("server", []string{"-config", file}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.GC
	if g.JobThreshold != 2*time.Hour || g.EvalThreshold != 30*time.Minute || g.NodeThreshold != 48*time.Hour || g.TrackedVersions != 3 || g.ACLTokenThreshold != 3*time.Hour {
		t.Fatalf("gc config %+v: want the top-level job_gc_threshold, the server block's others", g)
	}
	if g.Interval != 0 || g.BatchEvalThreshold != 0 {
		t.Fatalf("unset keys %+v: want zero (the server's defaults)", g)
	}
}

func TestServerConfigGCKeysRefuseBadDurations(t *testing.T) {
	for _, bad := range []string{`eval_gc_threshold = "soon"`, `job_gc_interval = "-5m"`, `server { node_gc_threshold = "0s" }`} {
		file := filepath.Join(t.TempDir(), "central.hcl")
		os.WriteFile(file, []byte("data_dir = \"/tmp/x\"\n"+bad+"\n"), 0o644)
		_, _, _, err := serverFlags("server", []string{"-config", file}, io.Discard, false)
		if err == nil || !strings.Contains(err.Error(), "positive duration") {
			t.Errorf("%s: error %v, want one naming the key and the form", bad, err)
		}
	}
}
