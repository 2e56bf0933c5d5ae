package artifact

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDestination: whatever a job file says, the resolved destination stays
// inside the task dir or is rejected, and nothing panics.
func FuzzDestination(f *testing.F) {
	for _, s := range []string{"local/", "", "..", "local/../..", "/etc", "a/b/c.wasm", `..\x`, "./local/./x", "local/..", "...."} {
		f.Add(s, "any")
		f.Add(s, "file")
	}
	src, _ := url.Parse("http://127.0.0.1/app.wasm")
	task := "/tmp/task"
	f.Fuzz(func(t *testing.T, dest, mode string) {
		p, err := destPath(task, Artifact{Destination: dest, Mode: mode}, src)
		if err != nil {
			return
		}
		rel, err := filepath.Rel(task, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("destination %q (mode %q) resolved outside the task dir: %s", dest, mode, p)
		}
	})
}

// FuzzChecksum: parsing never panics and accepted values round-trip.
func FuzzChecksum(f *testing.F) {
	for _, s := range []string{"sha256:" + strings.Repeat("ab", 32), "sha512:" + strings.Repeat("0", 128), "md5:x", ":", "sha256:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseChecksum(s)
		if err != nil || c == nil {
			return
		}
		again, err := parseChecksum(c.algo + ":" + c.hex)
		if err != nil || *again != *c {
			t.Fatalf("%q parsed to %+v, which does not round-trip: %v", s, c, err)
		}
	})
}
