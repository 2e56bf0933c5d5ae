// Package rootpath explains os.Root's refusals. The agent creates task
// files through an os.Root on the task dir, which refuses, race-free, to
// follow a symlink out of it; Escape only finds the words for that
// refusal (which link, leading where), reading with Lstat and Readlink.
package rootpath

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Link is a symlink on the way to a path below a root that os.Root does
// not follow.
type Link struct {
	Path     string // the symlink, under root
	Target   string // what it points to, as written
	Outside  bool   // it leads out of root
	Absolute bool   // it is absolute (os.Root follows only relative links)
}

// Escape walks rel below root and returns the first symlink os.Root would
// refuse to follow: one that leads out of root, or an absolute one.
func Escape(root, rel string) (Link, bool) {
	cur := root
	for _, el := range strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/") {
		if el == "" || el == "." {
			continue
		}
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		if err != nil {
			return Link{}, false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, _ := os.Readlink(cur)
		real, err := filepath.EvalSymlinks(cur)
		if err != nil {
			real = target
		}
		l := Link{Path: cur, Target: target, Outside: !Inside(root, real), Absolute: filepath.IsAbs(target)}
		if l.Outside || l.Absolute {
			return l, true
		}
	}
	return Link{}, false
}

// Inside reports whether path, resolved, is root (resolved) or below it.
func Inside(root, path string) bool {
	rr, err := filepath.EvalSymlinks(root)
	if err != nil {
		rr = root
	}
	rel, err := filepath.Rel(rr, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// CreateTemp creates a new file named prefix plus random text in dir,
// readable only by the agent (0600) until the caller sets its mode, and
// refuses anything that exists (O_EXCL, so never through a symlink).
func CreateTemp(dir *os.Root, prefix string) (string, *os.File, error) {
	for range 10 {
		name := prefix + rand.Text()
		f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return name, f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("cannot create a temporary file in %s", dir.Name())
}

// WriteFile puts data at name in dir atomically: a temporary file (prefix
// plus random text, see CreateTemp) is written, given perm, synced and
// renamed over name, so a symlink planted at name is replaced, not
// followed. The temporary file is removed on failure.
func WriteFile(dir *os.Root, name string, data []byte, perm os.FileMode, prefix string) error {
	tmp, f, err := CreateTemp(dir, prefix)
	if err != nil {
		return err
	}
	defer dir.Remove(tmp) // fails harmlessly after the rename
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = dir.Rename(tmp, name)
	}
	return err
}
