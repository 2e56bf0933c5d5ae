package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// A template source that a task replaced with a symlink to a file outside
// its directory is not read: the agent (root) would otherwise copy a file
// the task may not read (/etc/shadow) into one it may.
func TestSourceSymlinkOutsideRefused(t *testing.T) {
	p := testPaths(t)
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{secret, "../../../../../../../../../../.." + secret} {
		link := filepath.Join(p.TaskDir, "local", "in.tpl")
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		_, err := Parse(protocol.Template{Source: "local/in.tpl", Destination: "local/out"}, p)
		if err == nil || !strings.Contains(err.Error(), "outside the task directory") || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("source linked to %s: %v", target, err)
		}
	}
	// A link that stays inside is followed.
	if err := os.WriteFile(filepath.Join(p.TaskDir, "local", "real.tpl"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(p.TaskDir, "local", "in.tpl"))
	if err := os.Symlink("real.tpl", filepath.Join(p.TaskDir, "local", "in.tpl")); err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(protocol.Template{Source: "local/in.tpl", Destination: "local/out"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := tm.Render(apiLookup()); err != nil || string(out) != "ok" {
		t.Fatalf("render %q %v", out, err)
	}
}
