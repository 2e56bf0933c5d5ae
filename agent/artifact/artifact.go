package artifact

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Sentinel errors. Fetch wraps them with the artifact's source and details.
var (
	// ErrChecksumMismatch: the downloaded bytes do not have the checksum the
	// job file names.
	ErrChecksumMismatch = errors.New("artifact: checksum mismatch")
	// ErrBadChecksum: the checksum is not "sha256:<hex>" or "sha512:<hex>".
	ErrBadChecksum = errors.New("artifact: bad checksum")
	// ErrPathEscape: the destination points outside the task dir.
	ErrPathEscape = errors.New("artifact: destination escapes the task dir")
	// ErrBadSource: the source is not an http, https or file URL.
	ErrBadSource = errors.New("artifact: unsupported source")
	// ErrDownload: the server answered with something other than 200 OK,
	// or the transfer failed.
	ErrDownload = errors.New("artifact: download failed")
)

// Modes of Artifact.Mode.
const (
	ModeAny  = "any"  // Destination is a directory; the file is named after the URL path (default)
	ModeFile = "file" // Destination is the file itself
)

// Artifact is one artifact block of a task.
type Artifact struct {
	Source      string // http://, https:// or file:// URL
	Destination string // relative to the task dir; default "local/"
	Checksum    string // "sha256:<hex>" or "sha512:<hex>"; empty: not verified, not cached
	Mode        string // ModeAny (default) or ModeFile
}

// Fetcher downloads artifacts into task dirs through a cache of verified
// files. Its methods are safe for concurrent use.
type Fetcher struct {
	cacheDir string
	client   *http.Client

	mu       sync.Mutex       // guards inflight
	inflight map[string]*call // cache key -> the fetch filling it
}

// call is one fetch into the cache that concurrent Fetches of the same
// checksum wait for.
type call struct {
	done chan struct{}
	err  error
}

// New returns a Fetcher caching under cacheDir (created on first use);
// client nil means http.DefaultClient.
func New(cacheDir string, client *http.Client) *Fetcher {
	if client == nil {
		client = http.DefaultClient
	}
	return &Fetcher{cacheDir: cacheDir, client: client, inflight: map[string]*call{}}
}

// Fetch puts the artifact in place under taskDir and returns the path of the
// file it wrote. With a checksum, a second Fetch of the same checksum is
// served from the cache without a network request.
func (f *Fetcher) Fetch(ctx context.Context, a Artifact, taskDir string) (string, error) {
	src, err := parseSource(a.Source)
	if err != nil {
		return "", err
	}
	sum, err := parseChecksum(a.Checksum)
	if err != nil {
		return "", fmt.Errorf("artifact %s: %w", a.Source, err)
	}
	dest, err := destPath(taskDir, a, src)
	if err != nil {
		return "", fmt.Errorf("artifact %s: %w", a.Source, err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("artifact %s: creating %s: %v", a.Source, filepath.Dir(dest), err)
	}
	if err := checkNoSymlinkEscape(taskDir, filepath.Dir(dest)); err != nil {
		return "", fmt.Errorf("artifact %s: %w", a.Source, err)
	}
	if sum == nil {
		// Unverified: straight into the task dir, never cached.
		tmp, err := f.download(ctx, src, filepath.Dir(dest), nil)
		if err != nil {
			return "", err
		}
		return dest, renameOrRemove(tmp, dest)
	}
	cached, err := f.cached(ctx, src, sum)
	if err != nil {
		return "", err
	}
	if err := copyInto(cached, dest); err != nil {
		return "", fmt.Errorf("artifact %s: copying from cache to %s: %v", a.Source, dest, err)
	}
	return dest, nil
}

// cached returns the cache file for sum, downloading it if needed. Fetches
// of the same checksum running at once share one download.
func (f *Fetcher) cached(ctx context.Context, src *url.URL, sum *checksum) (string, error) {
	p := filepath.Join(f.cacheDir, sum.key())
	for {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		f.mu.Lock()
		c, busy := f.inflight[p]
		if !busy {
			c = &call{done: make(chan struct{})}
			f.inflight[p] = c
		}
		f.mu.Unlock()
		if busy {
			select {
			case <-c.done:
				if c.err != nil {
					return "", c.err
				}
				continue // look again: the file is there now
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		c.err = f.fill(ctx, src, sum, p)
		f.mu.Lock()
		delete(f.inflight, p)
		f.mu.Unlock()
		close(c.done)
		if c.err != nil {
			return "", c.err
		}
		return p, nil
	}
}

// fill downloads src into the cache file p, verifying sum first.
func (f *Fetcher) fill(ctx context.Context, src *url.URL, sum *checksum, p string) error {
	if err := os.MkdirAll(f.cacheDir, 0o700); err != nil {
		return fmt.Errorf("artifact cache %s: %v (check that the agent's data_dir is writable)", f.cacheDir, err)
	}
	tmp, err := f.download(ctx, src, f.cacheDir, sum)
	if err != nil {
		return err
	}
	return renameOrRemove(tmp, p)
}

// download copies src into a temp file in dir, hashing it when sum is set,
// and returns the temp file's path once the checksum matched. On any error
// the temp file is removed.
func (f *Fetcher) download(ctx context.Context, src *url.URL, dir string, sum *checksum) (path string, err error) {
	body, err := f.open(ctx, src)
	if err != nil {
		return "", err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(dir, ".artifact-*")
	if err != nil {
		return "", fmt.Errorf("artifact %s: temp file in %s: %v", src.Redacted(), dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	var h hash.Hash
	if sum != nil {
		h = sum.newHash()
		w = io.MultiWriter(tmp, h)
	}
	if _, err = io.Copy(w, body); err != nil {
		return "", fmt.Errorf("artifact %s: %w: reading: %v", src.Redacted(), ErrDownload, err)
	}
	if sum != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != sum.hex {
			return "", fmt.Errorf("artifact %s: %w: expected %s:%s, got %s:%s; fix the job file's checksum or the file on the server",
				src.Redacted(), ErrChecksumMismatch, sum.algo, sum.hex, sum.algo, got)
		}
	}
	if err = tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("artifact %s: %v", src.Redacted(), err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("artifact %s: writing %s: %v", src.Redacted(), tmp.Name(), err)
	}
	return tmp.Name(), nil
}

// open returns the body of src.
func (f *Fetcher) open(ctx context.Context, src *url.URL) (io.ReadCloser, error) {
	if src.Scheme == "file" {
		fh, err := os.Open(src.Path)
		if err != nil {
			return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
		}
		return fh, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrBadSource, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("artifact %s: %w: server answered %s; check the source URL", src.Redacted(), ErrDownload, resp.Status)
	}
	return resp.Body, nil
}

// parseSource accepts http, https and file URLs.
func parseSource(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("artifact %q: %w: %v", s, ErrBadSource, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("artifact %q: %w: no host in the URL", s, ErrBadSource)
		}
	case "file":
		if u.Path == "" || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("artifact %q: %w: a file URL needs an absolute path, e.g. file:///opt/apps/app.wasm", s, ErrBadSource)
		}
	default:
		return nil, fmt.Errorf("artifact %q: %w: scheme %q (use http, https or file)", s, ErrBadSource, u.Scheme)
	}
	return u, nil
}

// destPath resolves the file the artifact is written to.
func destPath(taskDir string, a Artifact, src *url.URL) (string, error) {
	if taskDir == "" {
		return "", fmt.Errorf("no task dir given")
	}
	d := a.Destination
	if d == "" {
		d = "local/"
	}
	rel, err := relInside(d)
	if err != nil {
		return "", err
	}
	switch a.Mode {
	case "", ModeAny:
		name := path.Base(src.Path)
		if name == "" || name == "/" || name == "." || name == ".." {
			return "", fmt.Errorf("cannot name the file after the URL path %q; set mode = \"file\" and a destination file name", src.Path)
		}
		return filepath.Join(taskDir, rel, name), nil
	case ModeFile:
		if rel == "." {
			return "", fmt.Errorf("mode \"file\" needs a destination file name, e.g. destination = \"local/app.wasm\"")
		}
		return filepath.Join(taskDir, rel), nil
	}
	return "", fmt.Errorf("unknown mode %q (known: %s, %s)", a.Mode, ModeAny, ModeFile)
}

// relInside cleans a destination and rejects absolute paths and ".."
// elements, so the result stays inside the task dir.
func relInside(d string) (string, error) {
	if filepath.IsAbs(d) || strings.HasPrefix(d, "/") || strings.HasPrefix(d, `\`) {
		return "", fmt.Errorf("%w: %q is absolute; use a path relative to the task dir such as \"local/\"", ErrPathEscape, d)
	}
	for _, el := range strings.FieldsFunc(d, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." {
			return "", fmt.Errorf("%w: %q contains \"..\"; use a path inside the task dir such as \"local/\"", ErrPathEscape, d)
		}
	}
	return filepath.Clean(filepath.FromSlash(d)), nil
}

// checkNoSymlinkEscape rejects a destination dir that a symlink inside the
// task dir leads out of it.
func checkNoSymlinkEscape(taskDir, dir string) error {
	root, err := filepath.EvalSymlinks(taskDir)
	if err != nil {
		return fmt.Errorf("task dir %s: %v", taskDir, err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("destination %s: %v", dir, err)
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s leads to %s through a symlink", ErrPathEscape, dir, real)
	}
	return nil
}

// copyInto copies the cache file src to dest through a temp file in dest's
// dir, so the task never sees a half-written file. A copy, not a hard link:
// a task that changes its file must not change the cache.
func copyInto(src, dest string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".artifact-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		return err
	}
	if err = tmp.Chmod(0o755); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

func renameOrRemove(tmp, dest string) error {
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("artifact: putting %s in place: %v", dest, err)
	}
	return nil
}
