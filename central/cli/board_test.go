package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tether-edge/tether/internal/testhost"
)

func runBoard(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

func TestBoardBundleCLI(t *testing.T) {
	// The test binary stands in for the x86-gateway's agent.
	testhost.Require(t, runtime.GOARCH == "amd64" && runtime.GOOS == "linux", "a linux/amd64 host (the test binary stands in for the x86-gateway's agent)",
		"run on linux/amd64")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok\n"), 0o600)
	args := []string{"board", "bundle", "-board", "x86-gateway", "-name", "gw-1", "-datacenter", "dc2",
		"-broker", "tcp://site:1883", "-central", "http://central:7600", "-join-token-file", tokFile, "-meta", "rack=r1", "-agent", self, "-out", dir}
	code, out, errs := runBoard(args...)
	if code != 0 || !strings.Contains(out, "created   "+filepath.Join(dir, "etc/tether/agent.hcl")) || !strings.Contains(out, "==> board x86-gateway: 7 path(s) written, 0 unchanged") {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runBoard(args...)
	if code != 0 || !strings.Contains(out, "0 path(s) written, 7 unchanged") {
		t.Fatalf("second run: code %d\n%s", code, out)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "etc/tether/agent.hcl"))
	if !strings.Contains(string(cfg), `"rack" = "r1"`) || !strings.Contains(string(cfg), `datacenter = "dc2"`) ||
		!strings.Contains(string(cfg), `join_token_file = "/etc/tether/join-token"`) || !strings.Contains(string(cfg), `central    = "http://central:7600"`) || strings.Contains(string(cfg), "tok\n") {
		t.Fatalf("config:\n%s", cfg)
	}
	if !strings.Contains(out, "unchanged "+filepath.Join(dir, "usr/local/lib/tether-agent/agent")) || !strings.Contains(out, "unchanged "+filepath.Join(dir, "usr/local/bin/agent")) {
		t.Fatalf("the agent's binary and its link are not listed:\n%s", out)
	}
	if l, err := os.Readlink(filepath.Join(dir, "usr/local/bin/agent")); err != nil || l != "../lib/tether-agent/agent" {
		t.Fatalf("usr/local/bin/agent links to %q %v", l, err)
	}
	if tok, _ := os.ReadFile(filepath.Join(dir, "etc/tether/join-token")); string(tok) != "tok\n" {
		t.Fatalf("join token file holds %q", tok)
	}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong arch", []string{"-board", "rpi4", "-agent", self, "-broker", "tcp://s:1", "-name", "n", "-out", t.TempDir()}, exitError, "the board needs linux-arm64"},
		{"out and root", []string{"-board", "rpi4", "-out", "a", "-root", "b", "-broker", "tcp://s:1"}, exitUsage, "not both"},
		{"no broker", []string{"-board", "rpi4", "-out", "a"}, exitUsage, "no broker"},
		{"both token flags", []string{"-board", "rpi4", "-out", "a", "-broker", "tcp://s:1", "-join-token", "x", "-join-token-file", tokFile}, exitUsage, "not both"},
		{"missing token file", []string{"-board", "rpi4", "-out", "a", "-broker", "tcp://s:1", "-join-token-file", tokFile + ".nope"}, exitError, "-join-token-file: open"},
		{"bad meta", []string{"-board", "rpi4", "-out", "a", "-broker", "tcp://s:1", "-meta", "x"}, exitUsage, "use -meta key=value"},
		{"join token without central", []string{"-board", "x86-gateway", "-agent", self, "-name", "n", "-out", t.TempDir(), "-broker", "tcp://s:1", "-join-token", "x"}, exitError, "a join token needs central's HTTP address to enrol at: set central = \"http://central:7600\" or -central"},
		{"unknown board", []string{"-board", "pi", "-out", "a", "-broker", "tcp://s:1"}, exitError, `unknown board "pi"`},
		{"missing default agent", []string{"-board", "rpi-zero", "-name", "n", "-out", t.TempDir(), "-broker", "tcp://s:1"}, exitError, "agent-linux-armv6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runBoard(append([]string{"board", "bundle"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("code %d stderr %q, want %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestBoardList(t *testing.T) {
	code, out, _ := runBoard("board", "list")
	for _, want := range []string{"linux-armv6  interpreter", "x86-gateway", "rpi5"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("code %d, want %q in\n%s", code, want, out)
		}
	}
}
