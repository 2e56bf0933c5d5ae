package logfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
)

// Reader reads one stream across its rotated files, in order, through an
// os.Root (so a file or dir a task replaced with a symlink out of the root
// is refused). Its position is a file index and an offset in that file,
// and it follows both kinds of rotation:
//
//   - Writer: the file it reads is complete and the next index appears;
//     at the end of the file it moves on to the next.
//   - RotateShared: the file it reads moves to a higher index and is cut,
//     and pieces of MaxFileSize bytes holding its old content appear under
//     its old index and the next ones (the oldest may be dropped past
//     MaxFiles); an offset past a piece carries over into the next one,
//     and past the dropped ones into the first kept.
//
// A state that only appears in the middle of a rotation (a file shorter
// than the offset, a missing file, a gap in the indexes) is resolved only
// when it is still there at the next Read, after the rotation finished. A
// Reader is not safe for concurrent use.
type Reader struct {
	s   stream // the Reader does not own s.root
	max int64  // the stream's MaxFileSize: piece j of a shared rotation starts at j × max
	idx int
	off int64
	odd bool // the last Read saw a state a rotation passes through
}

// NewReader reads the stream rel ("logs/web.stdout") under root, written
// with Policy p, from its oldest file. The caller keeps root open while
// using the Reader.
func NewReader(root *os.Root, rel string, p Policy) *Reader {
	r := &Reader{s: stream{root: root, rel: rel}, max: p.WithDefaults().MaxFileSize}
	if idxs, err := r.indexes(); err == nil && len(idxs) > 0 {
		r.idx = idxs[0]
	}
	return r
}

func (r *Reader) name(i int) string            { return r.s.name(i) }
func (r *Reader) indexes() ([]int, error)      { return r.s.indexes() }
func (r *Reader) open(i int) (*os.File, error) { return r.s.root.Open(r.name(i)) }

// Read reads what the stream holds past the Reader's position. It returns
// 0, io.EOF when there is nothing more now; more may come later.
func (r *Reader) Read(buf []byte) (int, error) {
	for {
		f, err := r.open(r.idx)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		if err != nil {
			idxs, err := r.indexes()
			if err != nil {
				return 0, err
			}
			i, _ := slices.BinarySearch(idxs, r.idx)
			if i == len(idxs) {
				return 0, io.EOF // nothing written yet (or yet again)
			}
			if !r.odd {
				r.odd = true
				return 0, io.EOF
			}
			r.skip(idxs[i]) // rotated away (or on) while we were behind
			continue
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return 0, err
		}
		size := st.Size()
		if r.off < size {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), size-r.off)], r.off)
			f.Close()
			r.off += int64(n)
			if n > 0 {
				r.odd = false
				return n, nil
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			continue
		}
		f.Close()
		idxs, err := r.indexes()
		if err != nil {
			return 0, err
		}
		i, found := slices.BinarySearch(idxs, r.idx+1)
		switch {
		case r.off == size && found:
			r.idx, r.off = r.idx+1, 0
		case r.off == size && i == len(idxs):
			return 0, io.EOF
		case !r.odd:
			r.odd = true
			return 0, io.EOF
		case found: // a piece of a shared rotation: the offset carries over
			r.idx, r.off = r.idx+1, r.off-size
		case i < len(idxs): // files removed while we were behind
			r.skip(idxs[i])
		default: // truncated in place
			r.off = 0
			r.odd = false
			return 0, io.EOF
		}
	}
}

// skip moves on to file to when the files between are gone. A piece of a
// shared rotation starts MaxFileSize after the previous one, so a reader
// that was in the file before that rotation goes on where it was; one
// that was in a complete file (at most MaxFileSize) starts to's content
// from its beginning.
func (r *Reader) skip(to int) {
	r.off = max(0, r.off-int64(to-r.idx)*r.max)
	r.idx = to
}

// Settled reports whether the last Read that found nothing more ended at
// the end of the stream, not in a state a rotation passes through; a
// reader that stops at the end waits a moment and reads again when not.
func (r *Reader) Settled() bool { return !r.odd }

// Tail moves the Reader to the start of the last n lines of the stream,
// counted across its files (a final newline does not start an empty
// line).
func (r *Reader) Tail(n int) error {
	idxs, err := r.indexes()
	if err != nil || len(idxs) == 0 {
		return err
	}
	r.idx, r.off, r.odd = idxs[0], 0, false
	skipLast := true
	seen := 0
	for k := len(idxs) - 1; k >= 0; k-- {
		f, err := r.open(idxs[k])
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		off, found, err := lineStart(f, n-seen, &skipLast)
		f.Close()
		if err != nil {
			return err
		}
		if found {
			r.idx, r.off = idxs[k], off
			return nil
		}
		seen = n - int(off) // lineStart returns the lines still wanted in off when not found
	}
	return nil
}

// lineStart scans f backwards for the start of its last want lines. When
// the file holds fewer, found is false and the first result is how many
// lines are still wanted before it. skipLast (shared across files, newest
// first) says the newline ending the stream's last line is still ahead.
func lineStart(f *os.File, want int, skipLast *bool) (int64, bool, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	end := st.Size()
	const block = 8 << 10
	buf := make([]byte, block)
	for pos := end; pos > 0; {
		size := min(int64(block), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		for i := int(size) - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				*skipLast = false
				continue
			}
			if *skipLast {
				*skipLast = false
				continue
			}
			want--
			if want == 0 {
				return pos + int64(i) + 1, true, nil
			}
		}
	}
	return int64(want), false, nil
}
