package rootpath

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEscape(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.Symlink(outside, filepath.Join(root, "out"))
	os.Symlink("a", filepath.Join(root, "rel"))
	os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "abs"))
	for _, tc := range []struct {
		rel                    string
		found, outside, absolu bool
	}{
		{"a/b/c", false, false, false},
		{"rel/b", false, false, false},
		{"out/x/y", true, true, true},
		{"abs/b", true, false, true},
		{"missing/x", false, false, false},
	} {
		l, found := Escape(root, tc.rel)
		if found != tc.found || l.Outside != tc.outside || l.Absolute != tc.absolu {
			t.Errorf("Escape(%q) = %+v, %v; want found %v outside %v absolute %v", tc.rel, l, found, tc.found, tc.outside, tc.absolu)
		}
	}
}
