// Package otatest builds tiny stand-ins of the agent binary for tests:
// a main package at the agent's import path, cross-compiled for a target
// with -X main.version, cached per target and version for the test run.
package otatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	dir   string
	built = map[string]string{}
)

const mainSrc = `package main

import "fmt"

var version = "dev"

func main() { fmt.Println("agent", version) }
`

// Build returns the path of a tiny agent binary for target ("linux/amd64",
// "linux/arm64", "linux/armv7", "linux/armv6") reporting version. trimpath
// builds it as make cross does (the build info then lacks the linker
// flags). The file is shared: do not change it.
func Build(t testing.TB, target, version string, trimpath bool) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	key := target + "|" + version + "|" + map[bool]string{true: "trim", false: "full"}[trimpath]
	if p, ok := built[key]; ok {
		return p
	}
	if dir == "" {
		// Cached across runs (and shared by test processes: each file is
		// written under a temporary name and renamed).
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		d := filepath.Join(base, "tether-otatest", runtime.Version())
		if err := os.MkdirAll(filepath.Join(d, "cmd", "agent"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(d, "cmd", "agent", "main.go")); err == nil {
			dir = d
		} else if err := os.WriteFile(filepath.Join(d, "go.mod"), []byte("module github.com/tether-edge/tether\n\ngo 1.22\n"), 0o644); err != nil {
			t.Fatal(err)
		} else if err := os.WriteFile(filepath.Join(d, "cmd", "agent", "main.go"), []byte(mainSrc), 0o644); err != nil {
			t.Fatal(err)
		} else {
			dir = d
		}
	}
	goos, arch, ok := strings.Cut(target, "/")
	if !ok {
		t.Fatalf("otatest: target %q: want os/arch", target)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOFLAGS=", "GOWORK=off")
	switch arch {
	case "armv6", "armv7":
		env = append(env, "GOARCH=arm", "GOARM="+arch[len(arch)-1:])
	default:
		env = append(env, "GOARCH="+arch)
	}
	out := filepath.Join(dir, strings.NewReplacer("/", "-", "|", "-").Replace(key))
	if _, err := os.Stat(out); err == nil {
		built[key] = out
		return out
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	args := []string{"build", "-o", tmp, "-ldflags", "-s -w -X main.version=" + version}
	if trimpath {
		args = append(args, "-trimpath")
	}
	cmd := exec.Command("go", append(args, "./cmd/agent")...)
	cmd.Dir, cmd.Env = dir, env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("otatest: build %s: %v\n%s", key, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	built[key] = out
	return out
}
