package template

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tether-edge/tether/agent/internal/rootpath"
)

// write puts data at t.Dest if the file's content differs, atomically (a
// temporary file renamed over it, so a symlink planted at the destination
// is replaced, not followed). changed reports whether the content on disk
// changed.
//
// Every directory on the way is resolved and created through an os.Root
// opened on the task dir (or the alloc's shared dir): each component is
// opened relative to its parent, a symlink that leads out of the root or
// is absolute is refused before anything is created, and a task that
// swaps a directory for a symlink while the agent writes cannot redirect
// it (no check-then-create window).
func (t *Template) write(data []byte, p Paths) (changed bool, err error) {
	rootDir, rel, err := rootOf(t.Dest, p)
	if err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, err)
	}
	defer root.Close()
	if fi, err := root.Lstat(rel); err == nil && fi.Mode().IsRegular() {
		if old, err := root.ReadFile(rel); err == nil && bytes.Equal(old, data) {
			return false, nil
		}
	}
	dir, base := filepath.Split(rel)
	if dir == "" {
		dir = "."
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, explainEscape(rootDir, dir, err))
	}
	sub, err := root.OpenRoot(dir)
	if err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, explainEscape(rootDir, dir, err))
	}
	defer sub.Close()
	if err := rootpath.WriteFile(sub, base, data, t.Perm, ".tether-tmpl-"); err != nil {
		return false, fmt.Errorf("template %s: write %s: %w", t.Name, t.Dest, err)
	}
	return true, nil
}

// readSource reads a template's source file through an os.Root on the
// task dir (or the shared alloc dir), so a task that replaced its source
// with a symlink to a file outside (say /etc/shadow) does not get the
// agent, as root, to read that file into a template it can then read.
func readSource(path string, p Paths, limit int64) ([]byte, error) {
	rootDir, rel, err := rootOf(path, p)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		if _, serr := os.Stat(path); serr == nil {
			return nil, fmt.Errorf("%s leads outside the task directory through a symlink: keep the source file itself inside the task directory", path)
		}
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// rootOf splits dest into the root it lies in (the task dir or the alloc's
// shared dir; Parse checked that it lies in one) and its path below it.
func rootOf(dest string, p Paths) (root, rel string, err error) {
	for _, root := range []string{p.TaskDir, p.AllocDir} {
		if root == "" {
			continue
		}
		rel, err := filepath.Rel(root, dest)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return root, rel, nil
		}
	}
	return "", "", fmt.Errorf("destination %s is outside the task directory: use a path under local/, secrets/ or ../alloc/", dest)
}

// explainEscape turns os.Root's refusal to follow a symlink out of the
// root into an error that names the link and where it leads
// (rootpath.Escape only reads: the refusal happened race-free in os.Root).
func explainEscape(root, dir string, err error) error {
	if l, ok := rootpath.Escape(root, dir); ok {
		if l.Outside {
			return fmt.Errorf("destination directory %s: %s is a symlink to %s, outside the task directory; nothing was created: use a destination whose directories stay inside the task directory",
				filepath.Join(root, dir), l.Path, l.Target)
		}
		return fmt.Errorf("destination directory %s: %s is an absolute symlink (to %s); nothing was created: templates follow only relative links that stay inside the task directory",
			filepath.Join(root, dir), l.Path, l.Target)
	}
	return fmt.Errorf("create directory %s: %w", filepath.Join(root, dir), err)
}
