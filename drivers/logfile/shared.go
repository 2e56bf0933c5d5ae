package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"time"
)

// How often Watch looks at a shared file: faster while it rotates, slower
// while it stays small.
const (
	minInterval   = 100 * time.Millisecond
	startInterval = 250 * time.Millisecond
	maxInterval   = 2 * time.Second
)

// RotateShared rotates base's current file when it has reached
// MaxFileSize, for a file that another process (an exec task) holds open
// with O_APPEND and keeps writing: it copies the content into pieces of
// MaxFileSize that take the file's index and the ones after it, removes
// that content from the file in place, and gives the file the next free
// index. The writer never notices.
//
// Where the filesystem can (ext4, xfs, f2fs) and MaxFileSize is a whole
// number of its blocks (it is for sizes in MB), the copied pieces are cut
// from the file's start with FALLOC_FL_COLLAPSE_RANGE, which nothing
// written concurrently can slip past, and the last partial piece stays in
// the file; elsewhere (tmpfs, btrfs) the file is truncated, and bytes the
// task writes between the last copy and the truncation (a few
// microseconds) are lost: the price of copytruncate. Either way piece j
// holds the bytes from j × MaxFileSize, which readers rely on.
//
// A reader (see Reader) never meets old content under a new name: the
// file takes its new name before it is cut, and the pieces appear under
// theirs only after, lowest first.
func RotateShared(base string, p Policy) (rotated bool, err error) {
	_, rotated, err = rotateShared(base, p.WithDefaults())
	return rotated, err
}

func rotateShared(base string, p Policy) (size int64, rotated bool, err error) {
	st, err := openStream(base, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer st.close()
	return st.rotateShared(p)
}

func (s *stream) rotateShared(p Policy) (size int64, rotated bool, err error) {
	idxs, err := s.indexes()
	if err != nil || len(idxs) == 0 {
		return 0, false, err
	}
	h := idxs[len(idxs)-1]
	live := s.name(h)
	f, err := s.root.OpenFile(live, os.O_RDWR, 0)
	if err != nil {
		return 0, false, fmt.Errorf("open log file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size = fi.Size()
	if size < p.MaxFileSize || !lockRotation(f) {
		return size, false, nil
	}
	// Collapse whole pieces, leaving the last partial one in the file, or
	// truncate and copy everything.
	cut, collapse := size, false
	if c := (size - 1) / p.MaxFileSize * p.MaxFileSize; c > 0 && collapsible(f, c) {
		cut, collapse = c, true
	}
	pieces := int((cut + p.MaxFileSize - 1) / p.MaxFileSize)
	next := h + pieces            // the live file's new index
	keep := next - p.MaxFiles + 1 // lowest index kept

	// Files past MaxFiles go first: the disk never holds more than
	// MaxFiles of them plus the copy being made.
	s.purge(idxs, min(keep-1, h-1))

	tmp := func(j int) string {
		return path.Join(path.Dir(s.rel), "."+path.Base(s.rel)+".rotating."+strconv.Itoa(j))
	}
	var written []int // pieces copied, ascending
	defer func() {
		for _, j := range written {
			_ = s.root.Remove(tmp(j)) // left only on error
		}
	}()
	var copyErr error
	for j := 0; j < pieces; j++ {
		if h+j < keep {
			continue
		}
		off := int64(j) * p.MaxFileSize
		if copyErr = s.copyRange(f, off, min(p.MaxFileSize, cut-off), tmp(j), false); copyErr != nil {
			// A full disk: the content is dropped rather than kept
			// growing, so the task's logs free space instead of taking it.
			for _, j := range written {
				_ = s.root.Remove(tmp(j))
			}
			written = nil
			copyErr = fmt.Errorf("%w; dropped the task's oldest output instead", copyErr)
			break
		}
		written = append(written, j)
	}
	_ = s.root.Remove(s.name(next))
	if err := s.root.Rename(live, s.name(next)); err != nil {
		return size, false, fmt.Errorf("rename log file: %w", err)
	}
	if collapse {
		if err := collapseStart(f, cut); err != nil {
			collapse = false // refused after all: truncate
		}
	}
	if !collapse {
		// What the task wrote while we copied goes to the last piece.
		// (With no piece kept, from a full disk or max_files 1, it is
		// dropped.)
		if fi, err := f.Stat(); err == nil && fi.Size() > cut && len(written) > 0 {
			if err := s.copyRange(f, cut, fi.Size()-cut, tmp(written[len(written)-1]), true); err != nil {
				return size, false, err
			}
		}
		if err := f.Truncate(0); err != nil {
			return size, false, fmt.Errorf("truncate log file: %w", err)
		}
	}
	for len(written) > 0 {
		j := written[0]
		if err := s.root.Rename(tmp(j), s.name(h+j)); err != nil {
			return size, false, fmt.Errorf("rename rotated log file: %w", err)
		}
		written = written[1:]
	}
	return size, true, copyErr
}

// copyRange copies n bytes of f from off into the file name (appending
// when app, else replacing it).
func (s *stream) copyRange(f *os.File, off, n int64, name string, app bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if app {
		flag = os.O_WRONLY | os.O_APPEND
	}
	out, err := s.root.OpenFile(name, flag, 0o644)
	if err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	_, err = io.Copy(out, io.NewSectionReader(f, off, n))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return nil
}

// Watch keeps the shared files of bases rotated (RotateShared) until done
// is closed, then checks once more. It looks every 250 ms at first, down to every
// 100 ms while files fill up quickly and up to every 2 s while they stay
// small. onErr (nil: ignored) hears each new error once.
func Watch(done <-chan struct{}, p Policy, onErr func(error), bases ...string) {
	p = p.WithDefaults()
	interval := startInterval
	last := ""
	check := func() {
		rotated, small := false, true
		for _, b := range bases {
			size, r, err := rotateShared(b, p)
			if err != nil && onErr != nil && err.Error() != last {
				last = err.Error()
				onErr(err)
			}
			rotated = rotated || r
			small = small && size < p.MaxFileSize/2
		}
		switch {
		case rotated:
			interval = max(interval/2, minInterval)
		case small:
			interval = min(interval*2, maxInterval)
		}
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			check()
			return
		case <-t.C:
		}
		check()
		t.Reset(interval)
	}
}
