package artifact

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// server serves files by path on 127.0.0.1 and counts requests.
type server struct {
	*httptest.Server
	files    map[string][]byte
	requests atomic.Int64
}

func newServer(t *testing.T, files map[string][]byte) *server {
	t.Helper()
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		b, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// loopbackOK are the options of a Fetcher that may download from the
// test's servers on loopback, as an agent configured with
// artifact_allow_networks = ["127.0.0.0/8", "::1/128"].
func loopbackOK(cache string) Options {
	return Options{CacheDir: cache, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func newTaskDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "task")
	if err := os.MkdirAll(filepath.Join(d, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var payload = []byte("\x00asm\x01\x00\x00\x00 pretend module")

func TestFetchVerifiesAndPlaces(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/apps/app.wasm": payload})
	f := New(loopbackOK(filepath.Join(t.TempDir(), "cache")))
	task := newTaskDir(t)
	got, err := f.Fetch(context.Background(), Artifact{
		Source: srv.URL + "/apps/app.wasm", Checksum: sha256Of(payload),
	}, task)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(task, "local", "app.wasm"); got != want {
		t.Errorf("path = %s, want %s", got, want)
	}
	b, err := os.ReadFile(got)
	if err != nil || string(b) != string(payload) {
		t.Errorf("content = %q, %v", b, err)
	}
	if fi, _ := os.Stat(got); fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("mode %v is not executable", fi.Mode())
	}
	// sha512 and mode = file with a nested destination.
	s512 := sha512.Sum512(payload)
	got, err = f.Fetch(context.Background(), Artifact{
		Source: srv.URL + "/apps/app.wasm", Checksum: "SHA512:" + strings.ToUpper(hex.EncodeToString(s512[:])),
		Destination: "local/bin/module.wasm", Mode: ModeFile,
	}, task)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(task, "local", "bin", "module.wasm"); got != want {
		t.Errorf("path = %s, want %s", got, want)
	}
}

func TestFetchCacheHitMakesNoRequest(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	cache := filepath.Join(t.TempDir(), "cache")
	a := Artifact{Source: srv.URL + "/app.wasm", Checksum: sha256Of(payload)}
	if _, err := New(loopbackOK(cache)).Fetch(context.Background(), a, newTaskDir(t)); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("requests after first fetch = %d", n)
	}
	// A new Fetcher (an agent restart) on the same cache, another task.
	task := newTaskDir(t)
	got, err := New(loopbackOK(cache)).Fetch(context.Background(), a, task)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests after cached fetch = %d, want 1", n)
	}
	if b, _ := os.ReadFile(got); string(b) != string(payload) {
		t.Errorf("cached content = %q", b)
	}
	// The task's copy is not the cache: changing it leaves the cache intact.
	os.WriteFile(got, []byte("changed"), 0o644)
	got2, err := New(loopbackOK(cache)).Fetch(context.Background(), a, newTaskDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got2); string(b) != string(payload) {
		t.Errorf("cache changed through a task's copy: %q", b)
	}
}

func TestFetchConcurrentSameChecksumDownloadsOnce(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	f := New(loopbackOK(filepath.Join(t.TempDir(), "cache")))
	a := Artifact{Source: srv.URL + "/app.wasm", Checksum: sha256Of(payload)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		task := newTaskDir(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Fetch(context.Background(), a, task)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestFetchChecksumMismatchLeavesNothing(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	cache := filepath.Join(t.TempDir(), "cache")
	task := newTaskDir(t)
	wrong := sha256Of([]byte("something else"))
	_, err := New(loopbackOK(cache)).Fetch(context.Background(), Artifact{Source: srv.URL + "/app.wasm", Checksum: wrong}, task)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("error = %v, want ErrChecksumMismatch", err)
	}
	for _, want := range []string{wrong, sha256Of(payload), srv.URL + "/app.wasm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	for _, dir := range []string{filepath.Join(task, "local"), cache} {
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Errorf("%s holds %d entries after a mismatch (first %s)", dir, len(ents), ents[0].Name())
		}
	}
}

func TestFetchErrors(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload, "/": payload})
	good := sha256Of(payload)
	for _, tc := range []struct {
		name string
		a    Artifact
		is   error
		want string
	}{
		{"404", Artifact{Source: srv.URL + "/missing.wasm", Checksum: good}, ErrDownload, "404 Not Found"},
		{"dot-dot", Artifact{Source: srv.URL + "/app.wasm", Destination: "local/../../etc", Checksum: good}, ErrPathEscape, `contains ".."`},
		{"bare dot-dot", Artifact{Source: srv.URL + "/app.wasm", Destination: "..", Checksum: good}, ErrPathEscape, ".."},
		{"absolute", Artifact{Source: srv.URL + "/app.wasm", Destination: "/etc/", Checksum: good}, ErrPathEscape, "absolute"},
		{"ftp", Artifact{Source: "ftp://127.0.0.1/app.wasm", Checksum: good}, ErrBadSource, "use http, https or file"},
		{"file with host", Artifact{Source: "file://server/etc/app.wasm", Checksum: good}, ErrBadSource, "without a host"},
		{"md5", Artifact{Source: srv.URL + "/app.wasm", Checksum: "md5:d41d8cd98f00b204e9800998ecf8427e"}, ErrBadChecksum, "sha256 or sha512"},
		{"short hex", Artifact{Source: srv.URL + "/app.wasm", Checksum: "sha256:abcd"}, ErrBadChecksum, "64 hex digits"},
		{"no algo", Artifact{Source: srv.URL + "/app.wasm", Checksum: "abcd"}, ErrBadChecksum, "sha256:<hex>"},
		{"no file name", Artifact{Source: srv.URL + "/", Checksum: good}, nil, `mode = "file"`},
		{"unknown mode", Artifact{Source: srv.URL + "/app.wasm", Mode: "dir", Checksum: good}, nil, `unknown mode "dir"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := newTaskDir(t)
			_, err := New(loopbackOK(filepath.Join(t.TempDir(), "cache"))).Fetch(context.Background(), tc.a, task)
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.is == ErrDownload && !strings.Contains(err.Error(), tc.a.Source) {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestFetchSymlinkEscapeRejected(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	task := newTaskDir(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(task, "out")); err != nil {
		t.Fatal(err)
	}
	_, err := New(loopbackOK(filepath.Join(t.TempDir(), "cache"))).Fetch(context.Background(),
		Artifact{Source: srv.URL + "/app.wasm", Destination: "out/", Checksum: sha256Of(payload)}, task)
	if !errors.Is(err, ErrPathEscape) {
		t.Fatalf("error = %v, want ErrPathEscape", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a file was written outside the task dir")
	}
}

func TestFetchFileURLAndNoChecksum(t *testing.T) {
	allowed := t.TempDir()
	src := filepath.Join(allowed, "mod.wasm")
	os.WriteFile(src, payload, 0o644)
	cache := filepath.Join(t.TempDir(), "cache")
	opts := Options{CacheDir: cache, FilePaths: []string{allowed}}
	task := newTaskDir(t)
	got, err := New(opts).Fetch(context.Background(), Artifact{Source: "file://" + src, Checksum: sha256Of(payload)}, task)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); string(b) != string(payload) {
		t.Errorf("content = %q", b)
	}
	// A file source is never cached, with or without a checksum: it is on
	// the node already, and the cache must not hand it to another job that
	// names its checksum.
	got, err = New(opts).Fetch(context.Background(), Artifact{Source: "file://" + src, Destination: "local/x.wasm", Mode: ModeFile}, task)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); string(b) != string(payload) {
		t.Errorf("content = %q", b)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("a file source was cached: %v", err)
	}
	if _, err := New(opts).Fetch(context.Background(), Artifact{Source: "file://" + src + ".nope"}, task); !errors.Is(err, ErrDownload) {
		t.Errorf("missing file: %v", err)
	}
	// A wrong checksum leaves nothing.
	_, err = New(opts).Fetch(context.Background(), Artifact{Source: "file://" + src, Destination: "local/y.wasm", Mode: ModeFile, Checksum: sha256Of([]byte("other"))}, task)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("wrong checksum: %v", err)
	}
	if _, err := os.Stat(filepath.Join(task, "local", "y.wasm")); err == nil {
		t.Errorf("a file with the wrong checksum was put in place")
	}
}

// TestFetchIntoSharedAllocDir: a destination under ../alloc/ is written to
// the allocation's shared dir (the task dir's sibling "alloc"), as Nomad
// does; one that leaves the allocation dir is still refused.
func TestFetchIntoSharedAllocDir(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/model.bin": payload})
	task := newTaskDir(t)
	shared := filepath.Join(filepath.Dir(task), "alloc")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	f := New(loopbackOK(filepath.Join(t.TempDir(), "cache")))
	for dest, want := range map[string]string{
		"../alloc/data/":       filepath.Join(shared, "data", "model.bin"),
		"../alloc":             filepath.Join(shared, "model.bin"),
		"local/../../alloc/x/": filepath.Join(shared, "x", "model.bin"),
	} {
		got, err := f.Fetch(context.Background(), Artifact{Source: srv.URL + "/model.bin", Destination: dest, Checksum: sha256Of(payload)}, task)
		if err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
		if got != want {
			t.Errorf("%s: path = %s, want %s", dest, got, want)
		}
		if b, err := os.ReadFile(want); err != nil || string(b) != string(payload) {
			t.Errorf("%s: content = %q, %v", dest, b, err)
		}
	}
	for _, dest := range []string{"../alloc/../../etc/", "../other-task/local/", "../allocx/"} {
		_, err := f.Fetch(context.Background(), Artifact{Source: srv.URL + "/model.bin", Destination: dest, Checksum: sha256Of(payload)}, task)
		if !errors.Is(err, ErrPathEscape) {
			t.Errorf("%s: err = %v, want ErrPathEscape", dest, err)
		}
	}
}
