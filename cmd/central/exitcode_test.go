package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodes checks that the server commands' flag errors are usage
// errors (2), like the CLI's, and that a startup error is 1. None of these
// cases starts a server.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.hcl")
	raftConf := filepath.Join(t.TempDir(), "raft.hcl")
	if err := os.WriteFile(raftConf, []byte("raft = \"127.0.0.1:7601\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"server help", []string{"server", "-h"}, exitOK, "-bootstrap-expect"},
		{"dev help", []string{"dev", "-help"}, exitOK, "-data-dir"},
		{"server unknown flag", []string{"server", "-frobnicate"}, exitUsage, "flag provided but not defined: -frobnicate"},
		{"server bad flag value", []string{"server", "-bootstrap-expect", "three"}, exitUsage, "invalid value"},
		{"server extra argument", []string{"server", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"server bad -site", []string{"server", "-site", "dc2"}, exitUsage, "DATACENTER=BROKER_URL"},
		{"dev unknown flag", []string{"dev", "-frobnicate"}, exitUsage, "flag provided but not defined: -frobnicate"},
		{"dev -job without value", []string{"dev", "-job"}, exitUsage, "flag needs an argument: -job"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `Unknown command "frobnicate"`},
		{"no command", nil, exitUsage, "Usage: central"},
		{"dev with a raft address", []string{"dev", "-config", raftConf}, exitUsage, "remove raft and bootstrap_expect"},
		{"missing config file", []string{"server", "-config", missing}, exitError, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"central"}, tt.args...), &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}
