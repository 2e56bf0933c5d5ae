package ota_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/ota"
	"github.com/tether-edge/tether/central/ota/otatest"
	"github.com/tether-edge/tether/protocol"
)

func inspectFile(t *testing.T, path string) (ota.Binary, []byte, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ota.Inspect(bytes.NewReader(data))
	return b, data, err
}

// TestInspectTargets: the target comes from the ELF header and the build
// info (armv6 and armv7 differ only by GOARM), whatever the file is called.
func TestInspectTargets(t *testing.T) {
	for _, target := range []string{protocol.TargetLinuxAMD64, protocol.TargetLinuxARM64, protocol.TargetLinuxARMv7, protocol.TargetLinuxARMv6} {
		for _, trim := range []bool{true, false} {
			path := otatest.Build(t, target, "9.9.9-test", trim)
			// A misleading name changes nothing.
			named := filepath.Join(t.TempDir(), "agent-linux-amd64")
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(named, data, 0o755); err != nil {
				t.Fatal(err)
			}
			b, data, err := inspectFile(t, named)
			if err != nil {
				t.Fatalf("%s (trimpath %v): %v", target, trim, err)
			}
			if b.Target != target {
				t.Errorf("%s (trimpath %v): target %q", target, trim, b.Target)
			}
			if trim && b.Version != "" || !trim && b.Version != "9.9.9-test" {
				t.Errorf("%s (trimpath %v): version from build info %q", target, trim, b.Version)
			}
			if err := ota.CheckVersion(b, bytes.NewReader(data), int64(len(data)), "9.9.9-test"); err != nil {
				t.Errorf("%s (trimpath %v): right version refused: %v", target, trim, err)
			}
			if err := ota.CheckVersion(b, bytes.NewReader(data), int64(len(data)), "8.8.8-other"); err == nil {
				t.Errorf("%s (trimpath %v): wrong version accepted", target, trim)
			}
		}
	}
}

func TestInspectRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "agent")
	os.WriteFile(script, []byte("#!/bin/sh\necho agent\n"), 0o755)
	if _, _, err := inspectFile(t, script); !errors.Is(err, ota.ErrNotAgent) || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("a shell script: %v", err)
	}
	// Not linux: a windows or darwin build is not ELF at all; a freebsd one is.
	src := filepath.Join(dir, "m")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/other\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\nfunc main(){}\n"), 0o644)
	build := func(out string, env ...string) string {
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off"}, env...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, b)
		}
		return out
	}
	if _, _, err := inspectFile(t, build(filepath.Join(dir, "bsd"), "GOOS=freebsd", "GOARCH=amd64")); err == nil || !strings.Contains(err.Error(), `GOOS "freebsd"`) {
		t.Errorf("a freebsd binary: %v", err)
	}
	if _, _, err := inspectFile(t, build(filepath.Join(dir, "riscv"), "GOOS=linux", "GOARCH=riscv64")); err == nil || !strings.Contains(err.Error(), "not a target") {
		t.Errorf("a riscv64 binary: %v", err)
	}
	if _, _, err := inspectFile(t, build(filepath.Join(dir, "other"), "GOOS=linux", "GOARCH=amd64")); err == nil || !strings.Contains(err.Error(), "not the agent") {
		t.Errorf("another program: %v", err)
	}
	// A truncated agent is not an executable either.
	data, _ := os.ReadFile(otatest.Build(t, protocol.TargetLinuxAMD64, "9.9.9-test", true))
	if _, err := ota.Inspect(bytes.NewReader(data[:100])); err == nil {
		t.Error("a truncated binary was accepted")
	}
}
