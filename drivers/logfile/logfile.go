package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// Indexes lists the indexes of base's files, ascending. A missing
// directory is no files.
func Indexes(base string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Dir(base))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(base) + "."
	var out []int
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || !e.Type().IsRegular() {
			continue
		}
		out = append(out, i)
	}
	slices.Sort(out)
	return out, nil
}

// purge removes base's files with index at most upTo.
func purge(base string, idxs []int, upTo int) {
	for _, i := range idxs {
		if i <= upTo {
			_ = os.Remove(Name(base, i))
		}
	}
}

// OpenCurrent opens the file of base that is being written, for appending:
// the highest index, or the next one when that is full (index 0 when there
// is none). It creates the logs dir if needed.
func OpenCurrent(base string, p Policy) (f *os.File, idx int, size int64, err error) {
	p = p.WithDefaults()
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return nil, 0, 0, fmt.Errorf("log dir: %w", err)
	}
	idxs, err := Indexes(base)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list log files: %w", err)
	}
	if len(idxs) > 0 {
		idx = idxs[len(idxs)-1]
		if st, err := os.Stat(Name(base, idx)); err == nil && st.Size() >= p.MaxFileSize {
			idx++
		}
	}
	f, err = os.OpenFile(Name(base, idx), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("open log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, fmt.Errorf("open log file: %w", err)
	}
	purge(base, idxs, idx-p.MaxFiles)
	return f, idx, st.Size(), nil
}

// Writer writes one stream into base's files, rotating by size. It is safe
// for concurrent use.
type Writer struct {
	base string
	p    Policy

	mu   sync.Mutex // guards the fields below
	f    *os.File
	idx  int
	size int64
	err  error // sticky: the file could not be reopened
}

// Open returns a Writer appending to base's current file.
func Open(base string, p Policy) (*Writer, error) {
	p = p.WithDefaults()
	f, idx, size, err := OpenCurrent(base, p)
	if err != nil {
		return nil, err
	}
	return &Writer{base: base, p: p, f: f, idx: idx, size: size}, nil
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
	f, err := os.OpenFile(Name(w.base, next), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		w.err = fmt.Errorf("rotate log file: %w", err)
		return w.err
	}
	w.f, w.idx, w.size = f, next, 0
	if idxs, err := Indexes(w.base); err == nil {
		purge(w.base, idxs, next-w.p.MaxFiles)
	}
	return nil
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
