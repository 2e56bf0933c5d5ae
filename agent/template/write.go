package template

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// write puts data at t.Dest if the file's content differs, atomically (a
// temporary file renamed over it, so a symlink planted at the destination
// is replaced, not followed). It refuses a parent directory that resolves,
// through symlinks, outside the allowed roots. changed reports whether the
// content on disk changed.
func (t *Template) write(data []byte, p Paths) (changed bool, err error) {
	if old, err := os.ReadFile(t.Dest); err == nil && bytes.Equal(old, data) {
		if fi, err := os.Lstat(t.Dest); err == nil && fi.Mode().IsRegular() {
			return false, nil
		}
	}
	dir := filepath.Dir(t.Dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("template %s: create directory: %w", t.Name, err)
	}
	if err := checkReal(dir, p); err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, err)
	}
	f, err := os.CreateTemp(dir, ".tether-tmpl-*")
	if err != nil {
		return false, fmt.Errorf("template %s: %w", t.Name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(t.Perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, t.Dest)
	}
	if err != nil {
		return false, fmt.Errorf("template %s: write %s: %w", t.Name, t.Dest, err)
	}
	return true, nil
}

// checkReal checks that dir, with symlinks resolved, is still inside the
// task dir or the alloc's shared dir (a task could replace local/ with a
// link to /etc).
func checkReal(dir string, p Paths) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for _, root := range []string{p.TaskDir, p.AllocDir} {
		if root == "" {
			continue
		}
		rr, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rr, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil
		}
	}
	return fmt.Errorf("destination directory %s resolves to %s, outside the task directory", dir, real)
}
