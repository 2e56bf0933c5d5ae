package allocrunner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritePayloadFile(t *testing.T) {
	taskDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(taskDir, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writePayloadFile(taskDir, "in/put.json", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(taskDir, "local", "in", "put.json")); err != nil || string(b) != `{"n":1}` {
		t.Fatalf("payload file: %q, %v", b, err)
	}
	if err := writePayloadFile(taskDir, "../secrets/x", nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("escaping file accepted: %v", err)
	}
}

// A task (or an artifact) that planted a symlink in local/ pointing out of
// the task dir cannot make the agent write the payload there, and a
// symlink at the destination itself is replaced, not followed.
func TestWritePayloadFileRefusesSymlinks(t *testing.T) {
	taskDir, outside := t.TempDir(), t.TempDir()
	local := filepath.Join(taskDir, "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(local, "out")); err != nil {
		t.Fatal(err)
	}
	err := writePayloadFile(taskDir, "out/input.json", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("write through a symlink out of the task dir: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(outside, "input.json")); serr == nil {
		t.Fatal("the payload was written outside the task dir")
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(local, "input.json")); err != nil {
		t.Fatal(err)
	}
	if err := writePayloadFile(taskDir, "input.json", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("the write followed the symlink: victim now %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(local, "input.json")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("destination: %v, %v", fi, err)
	}
}
