package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Nomad's defaults for a task's logs block.
const (
	DefaultMaxFiles    = 10
	DefaultMaxFileSize = 10 << 20 // bytes
)

// Policy bounds one output stream of a task.
type Policy struct {
	MaxFiles    int   // files kept, the one being written included; 0: DefaultMaxFiles
	MaxFileSize int64 // bytes per file; 0: DefaultMaxFileSize
}

// WithDefaults fills the zero fields with Nomad's defaults.
func (p Policy) WithDefaults() Policy {
	if p.MaxFiles <= 0 {
		p.MaxFiles = DefaultMaxFiles
	}
	if p.MaxFileSize <= 0 {
		p.MaxFileSize = DefaultMaxFileSize
	}
	return p
}

// Name is the path of file i of the stream whose files start with base
// (<logs dir>/<task>.stdout).
func Name(base string, i int) string { return base + "." + strconv.Itoa(i) }

// stream is one stream's files, reached through an os.Root on the dir
// above the logs dir (the allocation's shared dir): a symlink that a task
// planted there or in the logs dir (a wasm guest can make them in its
// /alloc) never leads a write, truncation or removal out of it.
type stream struct {
	root *os.Root
	rel  string // "logs/web.stdout", slash-separated
}

// openStream opens base's stream, creating its logs dir when create.
func openStream(base string, create bool) (*stream, error) {
	logs := filepath.Dir(base)
	if create {
		if err := os.MkdirAll(filepath.Dir(logs), 0o755); err != nil {
			return nil, fmt.Errorf("log dir: %w", err)
		}
	}
	root, err := os.OpenRoot(filepath.Dir(logs))
	if err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	s := &stream{root: root, rel: path.Join(filepath.Base(logs), filepath.Base(base))}
	if create {
		if err := root.MkdirAll(filepath.Base(logs), 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("log dir: %w", err)
		}
	}
	return s, nil
}

func (s *stream) close()            { s.root.Close() }
func (s *stream) name(i int) string { return s.rel + "." + strconv.Itoa(i) }

// indexes lists the indexes of the stream's files, ascending; a missing
// logs dir is no files. Only regular files count.
func (s *stream) indexes() ([]int, error) {
	d, err := s.root.Open(path.Dir(s.rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	prefix := path.Base(s.rel) + "."
	var out []int
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
			continue
		}
		if i, err := strconv.Atoi(rest); err == nil && i >= 0 && e.Type().IsRegular() {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out, nil
}

// purge removes the stream's files with index at most upTo.
func (s *stream) purge(idxs []int, upTo int) {
	for _, i := range idxs {
		if i <= upTo {
			_ = s.root.Remove(s.name(i))
		}
	}
}

// Indexes lists the indexes of base's files, ascending. A missing
// directory is no files.
func Indexes(base string) ([]int, error) {
	s, err := openStream(base, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.indexes()
}

// OpenCurrent opens the file of base that is being written, for appending:
// the highest index, or the next one when that is full (index 0 when there
// is none). It creates the logs dir if needed.
func OpenCurrent(base string, p Policy) (f *os.File, idx int, size int64, err error) {
	s, err := openStream(base, true)
	if err != nil {
		return nil, 0, 0, err
	}
	defer s.close()
	return s.openCurrent(p.WithDefaults())
}

func (s *stream) openCurrent(p Policy) (f *os.File, idx int, size int64, err error) {
	idxs, err := s.indexes()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list log files: %w", err)
	}
	if len(idxs) > 0 {
		idx = idxs[len(idxs)-1]
		if st, err := s.root.Stat(s.name(idx)); err == nil && st.Size() >= p.MaxFileSize {
			idx++
		}
	}
	f, err = s.root.OpenFile(s.name(idx), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("open log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, fmt.Errorf("open log file: %w", err)
	}
	s.purge(idxs, idx-p.MaxFiles)
	return f, idx, st.Size(), nil
}

// Writer writes one stream into base's files, rotating by size. It is safe
// for concurrent use.
type Writer struct {
	s *stream
	p Policy

	mu   sync.Mutex // guards the fields below
	f    *os.File
	idx  int
	size int64
	err  error // sticky: the file could not be reopened
}

// Open returns a Writer appending to base's current file.
func Open(base string, p Policy) (*Writer, error) {
	p = p.WithDefaults()
	s, err := openStream(base, true)
	if err != nil {
		return nil, err
	}
	f, idx, size, err := s.openCurrent(p)
	if err != nil {
		s.close()
		return nil, err
	}
	return &Writer{s: s, p: p, f: f, idx: idx, size: size}, nil
}

// Write writes b, splitting it so that no file passes MaxFileSize.
func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for len(b) > 0 {
		if w.f == nil {
			if w.err == nil {
				w.err = errors.New("log file closed")
			}
			return n, w.err
		}
		if w.size >= w.p.MaxFileSize {
			if err := w.rotate(); err != nil {
				return n, err
			}
		}
		part := b[:min(int64(len(b)), w.p.MaxFileSize-w.size)]
		m, err := w.f.Write(part)
		n += m
		w.size += int64(m)
		b = b[m:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// rotate closes the current file, opens the next and removes those past
// MaxFiles.
func (w *Writer) rotate() error {
	_ = w.f.Close()
	w.f = nil
	next := w.idx + 1
	f, err := w.s.root.OpenFile(w.s.name(next), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		w.err = fmt.Errorf("rotate log file: %w", err)
		return w.err
	}
	w.f, w.idx, w.size = f, next, 0
	if idxs, err := w.s.indexes(); err == nil {
		w.s.purge(idxs, next-w.p.MaxFiles)
	}
	return nil
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
		return nil
	}
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	w.s.close()
	w.s = nil
	return err
}
