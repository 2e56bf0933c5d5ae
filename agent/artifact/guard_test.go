package artifact

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// By default a download may not reach the node's own loopback: a job could
// otherwise read local services (or central's API on a single-machine
// setup) into its task dir. The check is on the address dialed, so a name
// that resolves to loopback is refused too.
func TestDownloadRefusesLoopbackByDefault(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, source := range []string{
		srv.URL + "/app.wasm",
		"http://localhost:" + itoa(port) + "/app.wasm",
	} {
		for _, sum := range []string{"", sha256Of(payload)} {
			task := newTaskDir(t)
			_, err := New(Options{CacheDir: filepath.Join(t.TempDir(), "cache")}).Fetch(context.Background(),
				Artifact{Source: source, Checksum: sum, Destination: "local/new/"}, task)
			if !errors.Is(err, ErrAddressRefused) {
				t.Fatalf("%s (checksum %q): error = %v, want ErrAddressRefused", source, sum, err)
			}
			if !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "artifact_allow_networks") {
				t.Errorf("error %q does not say what was refused and which key allows it", err)
			}
		}
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests", n)
	}
	// Allowed explicitly, the same download works.
	if _, err := New(loopbackOK(filepath.Join(t.TempDir(), "cache"))).Fetch(context.Background(),
		Artifact{Source: srv.URL + "/app.wasm", Checksum: sha256Of(payload)}, newTaskDir(t)); err != nil {
		t.Fatal(err)
	}
}

// Central's API and the brokers are never fetched from, even where
// loopback is allowed, whether the URL names them directly, by another
// name, or through a redirect from an allowed server.
func TestDownloadRefusesCentralAndBrokers(t *testing.T) {
	central := newServer(t, map[string][]byte{"/v1/jobs": []byte(`[{"id":"secret"}]`)})
	cport := itoa(central.Listener.Addr().(*net.TCPAddr).Port)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, central.URL+"/v1/jobs", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	opts := loopbackOK(filepath.Join(t.TempDir(), "cache"))
	opts.Deny = Endpoints("http://localhost:"+cport, "tcp://127.0.0.1:1")
	f := New(opts)
	for _, source := range []string{
		central.URL + "/v1/jobs",
		"http://localhost:" + cport + "/v1/jobs",
		redirect.URL + "/jobs",
	} {
		_, err := f.Fetch(context.Background(), Artifact{Source: source, Destination: "local/jobs", Mode: ModeFile}, newTaskDir(t))
		if !errors.Is(err, ErrAddressRefused) {
			t.Fatalf("%s: error = %v, want ErrAddressRefused", source, err)
		}
		if !strings.Contains(err.Error(), "central's API or a broker") {
			t.Errorf("error %q does not say why", err)
		}
	}
	if n := central.requests.Load(); n != 0 {
		t.Errorf("central's API got %d requests from artifact downloads", n)
	}
}

func TestLocalKind(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback",
		"0.0.0.0": "unspecified (this host)", "0.1.2.3": "unspecified (this host)", "::": "unspecified (this host)",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"224.0.0.1": "multicast", "ff02::1": "multicast",
		"10.0.0.1": "", "192.168.1.20": "", "8.8.8.8": "", "fd00::1": "", "2001:db8::1": "",
	} {
		if got, _ := localKind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("localKind(%s) = %q, want %q", addr, got, want)
		}
	}
	// IPv4 in IPv6 is judged as IPv4; a zone does not hide a link-local
	// address, nor keep an allowed one out.
	g := &guard{}
	for _, addr := range []string{"[::ffff:127.0.0.1]:80", "[fe80::1%eth0]:80", "0.0.0.0:80", "[::]:80"} {
		if err := g.control(context.Background(), "tcp", addr, nil); !errors.Is(err, ErrAddressRefused) {
			t.Errorf("%s was not refused: %v", addr, err)
		}
	}
	g.allow = []netip.Prefix{netip.MustParsePrefix("fe80::/10")}
	if err := g.control(context.Background(), "tcp6", "[fe80::1%eth0]:80", nil); err != nil {
		t.Errorf("fe80::1%%eth0 refused although fe80::/10 is allowed: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	got := Endpoints("tcp://10.0.0.2:1883", "ssl://broker.site", "http://central:7600/", "https://[fd00::1]", "ws://x", "bogus", "")
	want := []string{"10.0.0.2:1883", "broker.site:8883", "central:7600", "[fd00::1]:443", "x:80"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Endpoints = %q, want %q", got, want)
	}
}

// file:// sources are refused unless their directory is listed in
// artifact_file_paths; a symlink or ".." out of a listed directory is
// refused too, and nothing is created in the task dir for a refused one.
func TestFileSourceOnlyFromAllowedPaths(t *testing.T) {
	allowed := t.TempDir()
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "shadow")
	os.WriteFile(secret, []byte("root:secret"), 0o600)
	os.WriteFile(filepath.Join(allowed, "app.wasm"), payload, 0o644)
	os.Symlink(secret, filepath.Join(allowed, "link"))
	os.Mkdir(filepath.Join(allowed, "dir"), 0o755)

	// Off by default.
	_, err := New(Options{CacheDir: t.TempDir()}).Fetch(context.Background(), Artifact{Source: "file://" + filepath.Join(allowed, "app.wasm")}, newTaskDir(t))
	if !errors.Is(err, ErrFileNotAllowed) || !strings.Contains(err.Error(), "artifact_file_paths") {
		t.Fatalf("file source with no artifact_file_paths: %v", err)
	}
	f := New(Options{CacheDir: t.TempDir(), FilePaths: []string{allowed}})
	for _, src := range []string{
		"file://" + secret,
		"file://" + filepath.Join(allowed, "link"),
		"file://" + allowed + "/../" + filepath.Base(secretDir) + "/shadow",
		(&url.URL{Scheme: "file", Path: allowed + "/dir/../../" + filepath.Base(secretDir) + "/shadow"}).String(),
		"file://" + filepath.Join(allowed, "dir"),
	} {
		task := newTaskDir(t)
		_, err := f.Fetch(context.Background(), Artifact{Source: src, Destination: "local/new/", Mode: ModeAny}, task)
		if !errors.Is(err, ErrFileNotAllowed) {
			t.Errorf("%s: error = %v, want ErrFileNotAllowed", src, err)
		}
		if _, err := os.Stat(filepath.Join(task, "local", "new")); err == nil {
			t.Errorf("%s: refused, but local/new was created", src)
		}
	}
	if _, err := f.Fetch(context.Background(), Artifact{Source: "file://" + filepath.Join(allowed, "app.wasm")}, newTaskDir(t)); err != nil {
		t.Errorf("file in an allowed directory: %v", err)
	}
}

// A file source keeps at most its own permissions: a file only root may
// read is not made world-readable in the task dir; setuid is dropped.
func TestFileSourceKeepsNoMoreThanSourcePermissions(t *testing.T) {
	allowed := t.TempDir()
	f := New(Options{CacheDir: t.TempDir(), FilePaths: []string{allowed}})
	for src, want := range map[os.FileMode]os.FileMode{0o600: 0o600, 0o640: 0o640, 0o644: 0o644, 0o700: 0o700, 0o755: 0o755, 0o777: 0o755, os.ModeSetuid | 0o755: 0o755} {
		p := filepath.Join(allowed, "f"+itoa(int(src)))
		os.WriteFile(p, payload, 0o600)
		if err := os.Chmod(p, src); err != nil {
			t.Fatal(err)
		}
		got, err := f.Fetch(context.Background(), Artifact{Source: "file://" + p}, newTaskDir(t))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(got)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("source mode %v: task copy has %v, want %v", src, fi.Mode(), want)
		}
	}
}

// A destination that a symlink leads out of the task dir creates nothing
// outside it: the directories are created only once the path is known to
// stay inside.
func TestFetchCreatesNoDirectoryOutside(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/app.wasm": payload})
	outside, err := os.MkdirTemp("", "outside-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	task := newTaskDir(t)
	if err := os.Symlink(outside, filepath.Join(task, "x")); err != nil {
		t.Fatal(err)
	}
	for _, sum := range []string{"", sha256Of(payload)} {
		_, err := New(loopbackOK(filepath.Join(t.TempDir(), "cache"))).Fetch(context.Background(),
			Artifact{Source: srv.URL + "/app.wasm", Destination: "x/sub/", Checksum: sum}, task)
		if !errors.Is(err, ErrPathEscape) {
			t.Fatalf("error = %v, want ErrPathEscape", err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("created %s outside the task dir", filepath.Join(outside, ents[0].Name()))
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
