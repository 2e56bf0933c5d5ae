package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/server"
)

func TestServerConfigHTTPMaxConns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "central.hcl")
	os.WriteFile(file, []byte("data_dir = \"/tmp/x\"\nhttp_max_conns = 300\n"), 0o644)
	cfg, _, _, err := serverFlags("server", []string{"-config", file}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPMaxConns != 300 {
		t.Fatalf("http_max_conns %d, want 300", cfg.HTTPMaxConns)
	}
	cfg.HTTPMaxConns = -1
	cfg.DataDir = t.TempDir()
	if _, err := server.New(cfg, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "http_max_conns = -1") {
		t.Fatalf("http_max_conns = -1: %v, want an error naming it", err)
	}
}
