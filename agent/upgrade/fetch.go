package upgrade

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// ErrRefused wraps every reason an upgrade is refused for good (a bad
// signature, a hash that does not match, an older version, another
// target): the agent reports it and does not try that order again. Other
// download errors (a server down, a cut connection) are retried.
var ErrRefused = errors.New("upgrade refused")

// idleTimeout cancels a download that received nothing for this long.
const idleTimeout = 60 * time.Second

// Fetcher downloads release binaries into Dir (data_dir/upgrade),
// resuming a cut download from the partial file it left.
type Fetcher struct {
	Client *http.Client // with the agent's TLS settings
	Dir    string
	Log    *slog.Logger
}

// Fetched is a downloaded, verified binary.
type Fetched struct {
	Path  string // in Dir
	Bytes int64  // received over the network by this call (not counting an earlier partial download)
}

// PartialPath is where the binary of u is downloaded to.
func (f *Fetcher) PartialPath(u *protocol.AgentUpgrade) string {
	return filepath.Join(f.Dir, "agent-"+u.Version+"-"+strings.ReplaceAll(u.Target, "/", "-"))
}

// Fetch checks u's release signature with pub, downloads the binary (the
// URLs in order, each resuming where the last one stopped) and checks its
// size and SHA-256. The returned file has been verified; a binary that
// does not verify is deleted and ErrRefused returned.
func (f *Fetcher) Fetch(ctx context.Context, u *protocol.AgentUpgrade, pub ed25519.PublicKey) (Fetched, error) {
	if err := u.Validate(); err != nil {
		return Fetched{}, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err := protocol.VerifyRelease(u.Manifest(), u.ReleaseSig, pub); err != nil {
		return Fetched{}, fmt.Errorf("%w: release %s for %s: %v", ErrRefused, u.Version, u.Target, err)
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return Fetched{}, fmt.Errorf("upgrade: create %s: %w", f.Dir, err)
	}
	path := f.PartialPath(u)
	f.prune(path)
	var got int64
	var errs []string
	done := false
	for _, url := range u.URLs {
		n, err := f.fetchFrom(ctx, url, path, u.Size)
		got += n
		if err == nil {
			done = true
			break
		}
		if ctx.Err() != nil {
			return Fetched{Bytes: got}, ctx.Err()
		}
		errs = append(errs, err.Error())
		f.Log.Warn("agent upgrade download failed; trying the next location", "url", url, "err", err, "bytes", n)
	}
	if !done {
		return Fetched{Bytes: got}, fmt.Errorf("upgrade: download %s: %s", u.Version, strings.Join(errs, "; "))
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return Fetched{Bytes: got}, err
	}
	if subtle.ConstantTimeCompare(sum, u.SHA256) != 1 {
		os.Remove(path) // a fresh download next time, not a resume of a bad one
		return Fetched{Bytes: got}, fmt.Errorf("%w: the downloaded binary's SHA-256 is %x, the signed release says %x (tampered with, or a wrong file at the URL)", ErrRefused, sum, u.SHA256)
	}
	return Fetched{Path: path, Bytes: got}, nil
}

// prune removes the downloads of other releases (an order since
// replaced): only one binary's worth of the data dir goes to upgrades.
func (f *Fetcher) prune(keep string) {
	old, _ := filepath.Glob(filepath.Join(f.Dir, "agent-*"))
	for _, p := range old {
		if p != keep {
			os.Remove(p)
		}
	}
}

// fetchFrom downloads url into path up to size bytes, resuming from what
// path already holds. It returns the bytes received.
func (f *Fetcher) fetchFrom(ctx context.Context, url, path string, size int64) (int64, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("upgrade: open %s: %w", path, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return 0, err
	}
	have := st.Size()
	if have > size {
		if err := file.Truncate(0); err != nil {
			return 0, err
		}
		have = 0
	}
	if have == size {
		return 0, nil // complete: verified by the caller
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	// Connecting, the answer's headers and every read of the body must
	// each come within idleTimeout: a slow link is fine, a dead one is not.
	body := &idleReader{cancel: cancel}
	body.arm()
	defer body.stop()
	resp, err := f.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, err := rangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != have {
			return 0, fmt.Errorf("%s answered a range from byte %d (%v), asked from %d", url, start, err, have)
		}
	case resp.StatusCode == http.StatusOK:
		if have > 0 {
			f.Log.Info("download location does not resume; starting over", "url", url, "had", have)
		}
		if err := file.Truncate(0); err != nil {
			return 0, err
		}
		have = 0
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	if _, err := file.Seek(have, io.SeekStart); err != nil {
		return 0, err
	}
	body.r = resp.Body
	// One byte more than the release's size tells an oversized answer.
	n, err := io.Copy(file, io.LimitReader(body, size-have+1))
	if serr := file.Sync(); err == nil {
		err = serr
	}
	switch {
	case have+n > size:
		file.Truncate(0)
		return n, fmt.Errorf("%s sent more than the release's %d bytes", url, size)
	case err != nil:
		return n, fmt.Errorf("%s: cut after %d of %d bytes: %w", url, have+n, size, err)
	case have+n < size:
		return n, fmt.Errorf("%s: cut after %d of %d bytes", url, have+n, size)
	}
	return n, nil
}

// rangeStart parses the first byte of a Content-Range: "bytes 100-199/200".
func rangeStart(cr string) (int64, error) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1, fmt.Errorf("Content-Range %q", cr)
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1, fmt.Errorf("Content-Range %q", cr)
	}
	return strconv.ParseInt(first, 10, 64)
}

// idleReader cancels the download when no byte came for idleTimeout.
type idleReader struct {
	r      io.Reader
	cancel context.CancelFunc
	mu     sync.Mutex
	timer  *time.Timer
}

func (r *idleReader) arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = time.AfterFunc(idleTimeout, r.cancel)
}

func (r *idleReader) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer.Stop()
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.mu.Lock()
		r.timer.Reset(idleTimeout)
		r.mu.Unlock()
	}
	return n, err
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("upgrade: read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}
