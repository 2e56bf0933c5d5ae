package jobspec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// MaxReadBytes bounds what file(), filebase64() and fileexists() may read
// for one job file, all files together: what they read is sent with the
// job and parsed again by central.
const MaxReadBytes = MaxFileBytes

// errNoFiles is the file functions' answer when the parse has no
// ReadFile: a job posted to the API as HCL without the files it reads.
func errNoFiles(fn string) error {
	return fmt.Errorf("%s() reads files next to the job file: submit with `central job submit`, which sends them, or inline the content", fn)
}

// fileReader answers the file functions of one parse from
// ParseOptions.ReadFile, within MaxReadBytes in all. It is used by the
// decoder's goroutine only.
type fileReader struct {
	read func(path string) ([]byte, error) // nil: refuse
	left int64
}

func newFileReader(read func(string) ([]byte, error)) *fileReader {
	return &fileReader{read: read, left: MaxReadBytes}
}

// readFile reads path for the function fn, charging its bytes.
func (r *fileReader) readFile(fn, path string) ([]byte, error) {
	if r == nil || r.read == nil {
		return nil, errNoFiles(fn)
	}
	if path == "" {
		return nil, errors.New("the path is empty")
	}
	b, err := r.read(path)
	if err != nil {
		return nil, err
	}
	r.left -= int64(len(b))
	if r.left < 0 {
		return nil, fmt.Errorf("the files read by file() add up to more than %d bytes; make them smaller, or ship them with an artifact { } block", MaxReadBytes)
	}
	return b, nil
}

func pathParam() []function.Parameter {
	return []function.Parameter{{Name: "path", Type: cty.String}}
}

// fileFunc is file() (the file as a UTF-8 string) or, with b64,
// filebase64() (any bytes, base64-encoded).
func (r *fileReader) fileFunc(b64 bool) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file next to the job file.",
		Params:      pathParam(),
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			fn := "file"
			if b64 {
				fn = "filebase64"
			}
			b, err := r.readFile(fn, path)
			if err != nil {
				return cty.UnknownVal(cty.String), err
			}
			if b64 {
				return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
			}
			if !utf8.Valid(b) {
				return cty.UnknownVal(cty.String), fmt.Errorf("%s is not valid UTF-8; use filebase64(%q) for binary content", path, path)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// existsFunc is fileexists(): whether the reader has the file. A file that
// exists is read (and sent with the job), so that central's answer, from
// the files it was sent, is the same.
func (r *fileReader) existsFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a file next to the job file exists.",
		Params:      pathParam(),
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			_, err := r.readFile("fileexists", args[0].AsString())
			switch {
			case err == nil:
				return cty.True, nil
			case errors.Is(err, fs.ErrNotExist):
				return cty.False, nil
			}
			return cty.UnknownVal(cty.Bool), err
		},
	})
}

// RecordingReader returns a ParseOptions.ReadFile for the machine where the
// job file is (the CLI), and files, which returns every file it has read
// so far keyed by the path as the job file wrote it: send that map with
// the job so the server can parse it again with MapReader(files()).
//
// A relative path is read relative to dir (the job file's directory), an
// absolute one as it is, as Nomad does. Only regular files are read, each
// at most MaxReadBytes. read and files may be called from any goroutine.
func RecordingReader(dir string) (read func(path string) ([]byte, error), files func() map[string][]byte) {
	var mu sync.Mutex // guards seen
	seen := map[string][]byte{}
	read = func(path string) ([]byte, error) {
		full := path
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, path)
		}
		b, err := readRegular(full)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		seen[path] = b
		mu.Unlock()
		return b, nil
	}
	files = func() map[string][]byte {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
	return read, files
}

// readRegular reads the regular file at path, at most MaxReadBytes: a
// device or a FIFO would never end.
func readRegular(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxReadBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxReadBytes {
		return nil, fmt.Errorf("%s is more than %d bytes", path, MaxReadBytes)
	}
	return b, nil
}

// MapReader returns a ParseOptions.ReadFile that answers from files, keyed
// by the path as the job file wrote it (what RecordingReader's files
// returns). A path not in files does not exist (fs.ErrNotExist), so
// fileexists() is false for it, as it was where the files were recorded.
// The server parses a submitted job with it: it never reads its own disk.
func MapReader(files map[string][]byte) func(path string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		b, ok := files[path]
		if !ok {
			return nil, fmt.Errorf("%s was not sent with the job: %w", path, fs.ErrNotExist)
		}
		return b, nil
	}
}
