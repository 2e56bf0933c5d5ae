package upgrade

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// release is a fake agent binary with its signed upgrade order.
func release(t *testing.T, body []byte, priv ed25519.PrivateKey, urls ...string) *protocol.AgentUpgrade {
	t.Helper()
	sum := sha256.Sum256(body)
	u := &protocol.AgentUpgrade{Version: "1.1.0", Target: protocol.TargetLinuxARMv6, SHA256: sum[:], Size: int64(len(body)), URLs: urls}
	sig, err := protocol.SignRelease(u.Manifest(), priv)
	if err != nil {
		t.Fatal(err)
	}
	u.ReleaseSig = sig
	return u
}

// server serves body with Range support; cutAt > 0 cuts the first
// response's connection after that many bytes. It records each request's
// Range header and the bytes it sent.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	sent   int64
	cutAt  int64
	served int
}

func newServer(t *testing.T, body []byte, cutAt int64) *server {
	s := &server{cutAt: cutAt}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		first := s.served == 0
		s.served++
		s.mu.Unlock()
		if first && s.cutAt > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write(body[:s.cutAt])
			w.(http.Flusher).Flush()
			s.count(s.cutAt)
			panic(http.ErrAbortHandler) // the connection is cut mid-body
		}
		cw := &countingWriter{ResponseWriter: w, s: s}
		http.ServeContent(cw, r, "agent", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// stats returns the Range headers seen, the bytes sent and the requests served.
func (s *server) stats() ([]string, int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...), s.sent, s.served
}

func (s *server) count(n int64) {
	s.mu.Lock()
	s.sent += n
	s.mu.Unlock()
}

type countingWriter struct {
	http.ResponseWriter
	s *server
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.s.count(int64(n))
	return n, err
}

func testFetcher(t *testing.T) *Fetcher {
	return &Fetcher{Client: http.DefaultClient, Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func binary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// A download cut at 50 % resumes from the partial file: the agent
// receives the binary once in all, not once and a half.
func TestFetchResumesAfterCut(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	body := binary(3 << 20)
	srv := newServer(t, body, int64(len(body)/2))
	u := release(t, body, priv, srv.URL+"/v1/agent/release/1.1.0/linux/armv6")
	f := testFetcher(t)

	first, err := f.Fetch(context.Background(), u, pub)
	if err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("cut download: got %v, want a download error to retry", err)
	}
	if st, serr := os.Stat(f.PartialPath(u)); serr != nil || st.Size() != int64(len(body)/2) {
		t.Fatalf("partial file after the cut: %v, %v; want %d bytes kept", st, serr, len(body)/2)
	}
	second, err := f.Fetch(context.Background(), u, pub)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(second.Path)
	if !bytes.Equal(got, body) {
		t.Fatal("resumed binary differs")
	}
	ranges, sent, _ := srv.stats()
	if want := "bytes=" + strconv.Itoa(len(body)/2) + "-"; ranges[1] != want {
		t.Fatalf("second request's Range %q, want %q", ranges[1], want)
	}
	total := first.Bytes + second.Bytes
	t.Logf("binary %d bytes; received %d before the cut and %d after it: %d in all; the server sent %d",
		len(body), first.Bytes, second.Bytes, total, sent)
	if total != int64(len(body)) || sent != int64(len(body)) {
		t.Fatalf("received %d bytes in all (server sent %d), want exactly %d", total, sent, len(body))
	}
	// Another release's download replaces this one's.
	other := release(t, binary(10), priv, srv.URL+"/b")
	other.Version = "1.2.0"
	other.ReleaseSig, _ = protocol.SignRelease(other.Manifest(), priv)
	f.Fetch(context.Background(), other, pub)
	if _, err := os.Stat(second.Path); !os.IsNotExist(err) {
		t.Fatalf("the earlier release's download was kept: %v", err)
	}
	os.Remove(f.PartialPath(other))
	second, err = f.Fetch(context.Background(), u, pub)
	if err != nil {
		t.Fatal(err)
	}
	// Done: another Fetch downloads nothing.
	if again, err := f.Fetch(context.Background(), u, pub); err != nil || again.Bytes != 0 {
		t.Fatalf("complete file fetched again: %d bytes, %v", again.Bytes, err)
	}
}

// The next URL resumes where the first one was cut.
func TestFetchNextURLResumes(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	body := binary(1 << 20)
	cut := newServer(t, body, int64(len(body)/2))
	good := newServer(t, body, 0)
	u := release(t, body, priv, cut.URL+"/a", good.URL+"/a")
	res, err := testFetcher(t).Fetch(context.Background(), u, pub)
	if err != nil {
		t.Fatal(err)
	}
	if ranges, _, _ := good.stats(); res.Bytes != int64(len(body)) || ranges[0] != "bytes="+strconv.Itoa(len(body)/2)+"-" {
		t.Fatalf("received %d bytes, second server asked %q", res.Bytes, ranges)
	}
}

// A binary whose hash does not match the signed release is refused and
// deleted; a release not signed by the pinned key is refused before any
// byte is downloaded.
func TestFetchRefusesTampered(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	body := binary(64 << 10)
	tampered := append([]byte(nil), body...)
	tampered[1000] ^= 0xff
	srv := newServer(t, tampered, 0)
	u := release(t, body, priv, srv.URL+"/a")
	f := testFetcher(t)
	_, err := f.Fetch(context.Background(), u, pub)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("tampered binary: %v", err)
	}
	if _, serr := os.Stat(f.PartialPath(u)); !os.IsNotExist(serr) {
		t.Fatalf("the tampered download was kept: %v", serr)
	}

	forged := release(t, body, other, srv.URL+"/a")
	_, _, before := srv.stats()
	if _, err := f.Fetch(context.Background(), forged, pub); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("release signed by another key: %v", err)
	}
	resigned := *u
	resigned.Size-- // the order says something the signature does not
	if _, err := f.Fetch(context.Background(), &resigned, pub); !errors.Is(err, ErrRefused) {
		t.Fatalf("order changed after signing: %v", err)
	}
	if _, _, after := srv.stats(); after != before {
		t.Fatal("a release that does not verify was downloaded")
	}
}

// A server that sends more than the release's size is cut off at it.
func TestFetchBoundedBySize(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	body := binary(64 << 10)
	big := newServer(t, append(append([]byte(nil), body...), binary(1<<20)...), 0)
	u := release(t, body, priv, big.URL+"/a")
	f := testFetcher(t)
	if _, err := f.Fetch(context.Background(), u, pub); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized answer: %v", err)
	}
	if st, err := os.Stat(f.PartialPath(u)); err == nil && st.Size() > int64(len(body)) {
		t.Fatalf("kept %d bytes of an oversized answer", st.Size())
	}
}

// A server that ignores Range (200) makes the agent start over.
func TestFetchStartsOverWithoutRange(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	body := binary(128 << 10)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer plain.Close()
	u := release(t, body, priv, plain.URL+"/a")
	f := testFetcher(t)
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.PartialPath(u), []byte("junk from an earlier try"), 0o600)
	res, err := f.Fetch(context.Background(), u, pub)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(res.Path); !bytes.Equal(got, body) {
		t.Fatal("binary differs")
	}
}
