package artifact

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/agent/internal/rootpath"
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
	// ErrFileNotAllowed: a file:// source outside the directories the
	// agent's artifact_file_paths allows (none by default).
	ErrFileNotAllowed = errors.New("artifact: file source not allowed")
	// ErrAddressRefused: the download would connect to central's API, a
	// broker, or a loopback or link-local address the agent's
	// artifact_allow_networks does not allow.
	ErrAddressRefused = errors.New("artifact: address refused")
)

// Modes of Artifact.Mode.
const (
	ModeAny  = "any"  // Destination is a directory; the file is named after the URL path (default)
	ModeFile = "file" // Destination is the file itself
)

// downloadMode is the mode of a downloaded file: an exec task may run it.
const downloadMode = 0o755

// Artifact is one artifact block of a task.
type Artifact struct {
	Source      string // http://, https:// or file:// URL
	Destination string // relative to the task dir; default "local/"
	Checksum    string // "sha256:<hex>" or "sha512:<hex>"; empty: not verified, not cached
	Mode        string // ModeAny (default) or ModeFile
}

// Options configure a Fetcher. They come from the agent's config.
type Options struct {
	// CacheDir holds verified downloads, one file per checksum (created on
	// first use).
	CacheDir string
	// FilePaths are the directories file:// sources may be read from
	// (artifact_file_paths). Empty: every file:// source is refused.
	FilePaths []string
	// AllowNetworks are loopback, link-local and other local prefixes that
	// downloads may reach anyway (artifact_allow_networks). Central's API
	// and the brokers stay refused.
	AllowNetworks []netip.Prefix
	// Deny are host:port endpoints a download never connects to: central's
	// API and the brokers. Names are resolved again for every download.
	Deny []string
	// TLS is the client TLS config for https sources (nil: system roots).
	TLS *tls.Config
}

// Fetcher downloads artifacts into task dirs through a cache of verified
// files. Its methods are safe for concurrent use.
type Fetcher struct {
	cacheDir string
	files    []string // cleaned absolute artifact_file_paths
	guard    *guard
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

// New returns a Fetcher. Its HTTP client checks every address it dials
// (guard.go) and ignores HTTP_PROXY: through a proxy the check would see
// only the proxy.
func New(o Options) *Fetcher {
	g := &guard{allow: o.AllowNetworks, deny: o.Deny}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: g.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.wrapDial(d.DialContext),
		TLSClientConfig:       o.TLS,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	var files []string
	for _, p := range o.FilePaths {
		files = append(files, filepath.Clean(p))
	}
	return &Fetcher{cacheDir: o.CacheDir, files: files, guard: g, client: &http.Client{Transport: tr}, inflight: map[string]*call{}}
}

// Fetch puts the artifact in place under taskDir and returns the path of the
// file it wrote. A destination under "../alloc/" goes to the allocation's
// shared directory instead, the task dir's sibling "alloc" (as Nomad, which
// accepts any destination inside the allocation directory; a task's
// templates may write there too). With a checksum, a second Fetch of the
// same checksum is served from the cache without a network request. A
// file:// source is read where it is, every time, and never cached.
func (f *Fetcher) Fetch(ctx context.Context, a Artifact, taskDir string) (string, error) {
	if rest, ok := sharedDest(a.Destination); ok && taskDir != "" {
		taskDir, a.Destination = filepath.Join(filepath.Dir(filepath.Clean(taskDir)), "alloc"), rest
	}
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
	var local *os.File
	if src.Scheme == "file" {
		// Refused before anything is created in the task dir.
		if local, err = f.openFile(src); err != nil {
			return "", err
		}
		defer local.Close()
	}
	dir, err := openDestDir(taskDir, dest)
	if err != nil {
		return "", fmt.Errorf("artifact %s: %w", a.Source, err)
	}
	defer dir.Close()
	base := filepath.Base(dest)
	switch {
	case local != nil:
		// At most the source's own permissions: a file only its owner may
		// read stays so in the task dir.
		fi, err := local.Stat()
		if err != nil {
			return "", fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
		}
		if err := place(dir, base, local, sum, fi.Mode().Perm()&downloadMode, src); err != nil {
			return "", err
		}
	case sum == nil:
		// Unverified: straight into the task dir, never cached.
		body, err := f.get(ctx, src)
		if err != nil {
			return "", err
		}
		defer body.Close()
		if err := place(dir, base, body, nil, downloadMode, src); err != nil {
			return "", err
		}
	default:
		cached, err := f.cached(ctx, src, sum)
		if err != nil {
			return "", err
		}
		in, err := os.Open(cached)
		if err != nil {
			return "", fmt.Errorf("artifact %s: reading the cache: %v", a.Source, err)
		}
		defer in.Close()
		// A copy, not a hard link: a task that changes its file must not
		// change the cache.
		if err := place(dir, base, in, nil, downloadMode, src); err != nil {
			return "", fmt.Errorf("artifact %s: copying from cache to %s: %w", a.Source, dest, err)
		}
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
	cache, err := os.OpenRoot(f.cacheDir)
	if err != nil {
		return fmt.Errorf("artifact cache %s: %v (check that the agent's data_dir is writable)", f.cacheDir, err)
	}
	defer cache.Close()
	body, err := f.get(ctx, src)
	if err != nil {
		return err
	}
	defer body.Close()
	return place(cache, filepath.Base(p), body, sum, downloadMode, src)
}

// get returns the body of the http or https source src.
func (f *Fetcher) get(ctx context.Context, src *url.URL) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrBadSource, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if re := (*refusedError)(nil); errors.As(err, &re) {
			return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrAddressRefused, re)
		}
		return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("artifact %s: %w: server answered %s; check the source URL", src.Redacted(), ErrDownload, resp.Status)
	}
	return resp.Body, nil
}

// place copies r into a new temp file in dir, hashing it when sum is set,
// and renames it to name once the checksum matched; on any error the temp
// file is removed and nothing is at name that was not there before.
func place(dir *os.Root, name string, r io.Reader, sum *checksum, mode os.FileMode, src *url.URL) (err error) {
	tmp, f, err := rootpath.CreateTemp(dir, ".artifact-")
	if err != nil {
		return fmt.Errorf("artifact %s: temp file in %s: %v", src.Redacted(), dir.Name(), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			dir.Remove(tmp)
		}
	}()
	var w io.Writer = f
	var h hash.Hash
	if sum != nil {
		h = sum.newHash()
		w = io.MultiWriter(f, h)
	}
	if _, err = io.Copy(w, r); err != nil {
		return fmt.Errorf("artifact %s: %w: reading: %v", src.Redacted(), ErrDownload, err)
	}
	if sum != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != sum.hex {
			return fmt.Errorf("artifact %s: %w: expected %s:%s, got %s:%s; fix the job file's checksum or the file on the server",
				src.Redacted(), ErrChecksumMismatch, sum.algo, sum.hex, sum.algo, got)
		}
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("artifact %s: %v", src.Redacted(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("artifact %s: writing %s: %v", src.Redacted(), filepath.Join(dir.Name(), tmp), err)
	}
	if err = dir.Rename(tmp, name); err != nil {
		return fmt.Errorf("artifact: putting %s in place: %v", filepath.Join(dir.Name(), name), err)
	}
	return nil
}

// parseSource accepts http, https and file URLs (checkSource, the check
// central runs at submit).
func parseSource(s string) (*url.URL, error) {
	u, msg, fix := checkSource(s)
	if msg != "" {
		return nil, fmt.Errorf("artifact %q: %w: %s; %s", s, ErrBadSource, msg, fix)
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
		if rel == "." || strings.HasSuffix(d, "/") || strings.HasSuffix(d, `\`) {
			return "", fmt.Errorf("mode \"file\" needs a destination file name, e.g. destination = \"local/app.wasm\"")
		}
		return filepath.Join(taskDir, rel), nil
	}
	return "", fmt.Errorf("unknown mode %q (known: %s, %s)", a.Mode, ModeAny, ModeFile)
}

// sharedDest reports whether d names the allocation's shared directory
// ("../alloc") or a path below it, and returns the path below it ("." for
// the directory itself). Everything else is relative to the task dir,
// where relInside refuses "..".
func sharedDest(d string) (string, bool) {
	if strings.HasPrefix(d, "/") || strings.HasPrefix(d, `\`) {
		return "", false
	}
	c := path.Clean(strings.ReplaceAll(d, `\`, "/"))
	if c == "../alloc" {
		return ".", true
	}
	rest, ok := strings.CutPrefix(c, "../alloc/")
	return rest, ok
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

// openDestDir creates the directories of dest below taskDir and opens
// the last one. Both go through an os.Root on the task dir: every
// component is opened relative to its parent, so a symlink that leads out
// of the task dir (or is absolute) is refused before any directory is
// created, and a task cannot swap one in while the agent writes.
func openDestDir(taskDir, dest string) (*os.Root, error) {
	rel, err := filepath.Rel(taskDir, filepath.Dir(dest))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPathEscape, err)
	}
	root, err := os.OpenRoot(taskDir)
	if err != nil {
		return nil, fmt.Errorf("task dir %s: %v", taskDir, err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return nil, explainEscape(taskDir, rel, err)
	}
	dir, err := root.OpenRoot(rel)
	if err != nil {
		return nil, explainEscape(taskDir, rel, err)
	}
	return dir, nil
}

// explainEscape names the symlink that made os.Root refuse rel (read-only:
// the refusal itself was race-free) and wraps ErrPathEscape; other
// errors pass through.
func explainEscape(taskDir, rel string, err error) error {
	if l, ok := rootpath.Escape(taskDir, rel); ok {
		if l.Outside {
			return fmt.Errorf("%w: %s is a symlink to %s, outside the task dir; nothing was created", ErrPathEscape, l.Path, l.Target)
		}
		return fmt.Errorf("%w: %s is an absolute symlink (to %s); only relative links inside the task dir are followed", ErrPathEscape, l.Path, l.Target)
	}
	return fmt.Errorf("creating %s: %v", filepath.Join(taskDir, rel), err)
}
