package board

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/boards"
)

// fakeELF writes a header-only ELF executable for machine (enough for
// debug/elf) and returns its path.
func fakeELF(t *testing.T, dir, name string, machine uint16, is64 bool) string {
	t.Helper()
	var h []byte
	if is64 {
		h = make([]byte, 64)
		h[4] = 2
		binary.LittleEndian.PutUint16(h[52:], 64) // e_ehsize
	} else {
		h = make([]byte, 52)
		h[4] = 1
		binary.LittleEndian.PutUint16(h[40:], 52)
	}
	copy(h, "\x7fELF")
	h[5], h[6] = 1, 1                        // little endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], machine)
	binary.LittleEndian.PutUint32(h[20:], 1)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, h, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	emARM     = 40
	emAARCH64 = 183
	emX86_64  = 62
)

// fakeRoot is an OS root whose /bin is a link to usr/bin and /usr/bin/sh an
// absolute link to dash, as on Debian.
func fakeRoot(t *testing.T, machine uint16, is64 bool) string {
	t.Helper()
	root := t.TempDir()
	fakeELF(t, root, "usr/bin/dash", machine, is64)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	os.Symlink("/usr/bin/dash", filepath.Join(root, "usr/bin/sh"))
	return root
}

func opts(dir, agent string) Options {
	return Options{Board: "rpi4", Name: "pi-07", Datacenter: "dc2", Brokers: []string{"tcp://site:1883"},
		JoinToken: "tok", Central: "http://central:7600", Dir: dir, Agent: agent, Meta: map[string]string{"rack": "r1"}}
}

func TestBundleWritesTreeAndIsIdempotent(t *testing.T) {
	bins := t.TempDir()
	agent := fakeELF(t, bins, "agent-linux-arm64", emAARCH64, true)
	root := fakeRoot(t, emAARCH64, true)
	o := opts(root, agent)
	o.Root, o.FirstBoot = true, true

	rep, err := Bundle(o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() != len(Paths(true, true)) {
		t.Fatalf("first run changed %d paths, want %d: %+v", rep.Changed(), len(Paths(true, true)), rep.Changes)
	}
	checkTree(t, root, agent, true)

	rep, err = Bundle(o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() != 0 || len(rep.Changes) != len(Paths(true, true)) {
		t.Fatalf("second run: %+v", rep.Changes)
	}

	// A changed option rewrites only the config.
	o.Datacenter = "dc3"
	rep, err = Bundle(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Changes {
		if (c.Action != "unchanged") != (c.Path == ConfigPath) {
			t.Errorf("%s: %s", c.Path, c.Action)
		}
	}
}

func checkTree(t *testing.T, root, agent string, firstBoot bool) {
	t.Helper()
	want := map[string]os.FileMode{AgentPath: 0o755, ConfigPath: 0o600, TokenPath: 0o600, UnitPath: 0o644}
	if firstBoot {
		want[FirstBootPath], want[FirstUnitPath] = 0o755, 0o644
	}
	for p, mode := range want {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want a file with mode %v", p, fi, err, mode)
		}
	}
	if a, _ := os.ReadFile(agent); string(a) != string(must(os.ReadFile(filepath.Join(root, AgentPath)))) {
		t.Error("agent binary differs")
	}
	b, _ := boards.Load("rpi4")
	if string(must(os.ReadFile(filepath.Join(root, UnitPath)))) != string(b.Unit) {
		t.Error("unit differs from boards/rpi4")
	}
	if l, err := os.Readlink(filepath.Join(root, WantsPath)); err != nil || l != "/etc/systemd/system/tether-agent.service" {
		t.Errorf("wants link %q %v", l, err)
	}
	// The convenience link resolves inside the tree to the real binary.
	if l, err := os.Readlink(filepath.Join(root, AgentLink)); err != nil || l != AgentLinkTo {
		t.Errorf("%s links to %q %v, want %s", AgentLink, l, err, AgentLinkTo)
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(root, AgentLink)); err != nil || real != filepath.Join(must2(filepath.EvalSymlinks(root)), AgentPath) {
		t.Errorf("%s resolves to %q %v", AgentLink, real, err)
	}
	// The unit runs the binary where the bundle put it, and lets it write
	// only its own directory (an upgrade swaps the binary there).
	unit := string(must(os.ReadFile(filepath.Join(root, UnitPath))))
	if !strings.Contains(unit, "\nExecStart=/"+AgentPath+" ") || !strings.Contains(unit, "\nReadWritePaths=/"+AgentDir+"\n") || strings.Count(unit, "ReadWritePaths=") != 1 {
		t.Errorf("unit does not run /%s with ReadWritePaths=/%s alone:\n%s", AgentPath, AgentDir, unit)
	}
	if fi, err := os.Stat(filepath.Join(root, DataDir)); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir %v %v", fi, err)
	}
	cfg := config.Default()
	if err := config.LoadFile(filepath.Join(root, ConfigPath), &cfg); err != nil {
		t.Fatal(err)
	}
	// The token is in its own file, named by join_token_file, not in the
	// config (nor on the unit's command line).
	if cfg.Name != "pi-07" || cfg.DataDir != "/var/lib/tether-agent" || cfg.Meta["board"] != "rpi4" || cfg.Meta["rack"] != "r1" ||
		cfg.JoinToken != "" || cfg.JoinTokenFile != "/"+TokenPath {
		t.Errorf("config %+v", cfg)
	}
	if tok := string(must(os.ReadFile(filepath.Join(root, TokenPath)))); tok != "tok\n" {
		t.Errorf("join token file holds %q", tok)
	}
	for _, p := range []string{ConfigPath, UnitPath} {
		if strings.Contains(string(must(os.ReadFile(filepath.Join(root, p)))), "tok\n") {
			t.Errorf("%s holds the join token", p)
		}
	}
	if firstBoot {
		s := string(must(os.ReadFile(filepath.Join(root, FirstBootPath))))
		if !strings.Contains(s, "NAME='pi-07'") || !strings.HasPrefix(s, "#!/bin/sh") {
			t.Errorf("first boot script:\n%s", s)
		}
	}
}

func must2(s string, err error) string {
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return s
}

// A root flashed with the old layout (the agent in usr/local/bin, its
// upgrade's agent.prev beside it, a unit that ran it from there): a new
// bundle puts the agent in its own directory, replaces the old binary by
// the link and rewrites the unit; agent.prev is left for the operator.
func TestBundleOverOldLayout(t *testing.T) {
	bins := t.TempDir()
	agent := fakeELF(t, bins, "agent-linux-arm64", emAARCH64, true)
	root := fakeRoot(t, emAARCH64, true)
	fakeELF(t, root, "usr/local/bin/agent", emAARCH64, true)
	fakeELF(t, root, "usr/local/bin/agent.prev", emAARCH64, true)
	os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755)
	os.WriteFile(filepath.Join(root, UnitPath), []byte("[Service]\nExecStart=/usr/local/bin/agent -config /etc/tether/agent.hcl\nReadWritePaths=/usr/local/bin\n"), 0o644)
	o := opts(root, agent)
	o.Root = true
	rep, err := Bundle(o)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, c := range rep.Changes {
		actions[c.Path] = c.Action
	}
	if actions[AgentLink] != "updated" || actions[UnitPath] != "updated" || actions[AgentPath] != "created" {
		t.Errorf("changes %+v", rep.Changes)
	}
	checkTree(t, root, agent, false)
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/agent.prev")); err != nil {
		t.Errorf("the old agent.prev was touched: %v", err)
	}
	if rep, err = Bundle(o); err != nil || rep.Changed() != 0 {
		t.Fatalf("second run: %v %+v", err, rep.Changes)
	}
}

// A root whose usr/local/bin is an absolute link would lead the writes
// (and the removal of an old agent there) onto this machine: refused,
// and nothing is written through the link.
func TestBundleRefusesToWriteThroughLink(t *testing.T) {
	bins := t.TempDir()
	agent := fakeELF(t, bins, "agent-linux-arm64", emAARCH64, true)
	root := fakeRoot(t, emAARCH64, true)
	outside := t.TempDir() // stands for the host's /opt/bin
	os.MkdirAll(filepath.Join(root, "usr/local"), 0o755)
	if err := os.Symlink(outside, filepath.Join(root, "usr/local/bin")); err != nil {
		t.Fatal(err)
	}
	o := opts(root, agent)
	o.Root = true
	_, err := Bundle(o)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "usr/local/bin")+" is a symbolic link (to "+outside+")") {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote through the link: %v", ents)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return b
}

func TestBundleRefusals(t *testing.T) {
	bins := t.TempDir()
	arm64 := fakeELF(t, bins, "agent-arm64", emAARCH64, true)
	amd64 := fakeELF(t, bins, "agent-amd64", emX86_64, true)
	tests := []struct {
		name string
		mod  func(*Options)
		err  error
		want string
	}{
		{"armhf root for rpi4", func(o *Options) { o.Dir, o.Root = fakeRoot(t, emARM, false), true }, ErrWrongArch, "holds an OS for arm (/usr/bin/dash) but board rpi4 needs arm64"},
		{"amd64 binary for rpi4", func(o *Options) { o.Agent = amd64 }, ErrWrongArch, "built for amd64, the board needs linux-arm64"},
		{"not a root", func(o *Options) { o.Root = true }, ErrNotRoot, "has no etc/ directory"},
		{"unknown board", func(o *Options) { o.Board = "rpi9" }, boards.ErrUnknownBoard, "known: "},
		{"no dir", func(o *Options) { o.Dir = "" }, ErrBadOptions, "-out DIR or -root DIR"},
		{"no agent", func(o *Options) { o.Agent = "" }, ErrBadOptions, "make cross"},
		{"bad name", func(o *Options) { o.Name = "a/b" }, ErrBadOptions, `name "a/b"`},
		{"bad broker", func(o *Options) { o.Brokers = []string{"http://x"} }, ErrBadOptions, `scheme "http"`},
		{"board meta", func(o *Options) { o.Meta = map[string]string{"board": "x"} }, ErrBadOptions, "set by the board profile"},
		{"missing binary", func(o *Options) { o.Agent = filepath.Join(bins, "nope") }, nil, "make cross"},
		// What the agent would refuse at its first boot is refused here.
		{"join token without central", func(o *Options) { o.Central = "" }, ErrBadOptions, "the agent would refuse this config at boot: invalid agent config: a join token needs central's HTTP address"},
		{"central not http", func(o *Options) { o.Central = "tcp://central:7600" }, ErrBadOptions, `central "tcp://central:7600": scheme "tcp" not supported`},
		{"CA file missing", func(o *Options) { o.CAFile = filepath.Join(bins, "nope.pem") }, ErrBadOptions, "-tls-ca-file: open "},
		{"CA file without a certificate", func(o *Options) { o.CAFile = fakeELF(t, bins, "not-pem", emARM, false) }, ErrBadOptions, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(t.TempDir(), arm64)
			tt.mod(&o)
			_, err := Bundle(o)
			if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %v containing %q", err, tt.err, tt.want)
			}
		})
	}
}

func TestBundleForce(t *testing.T) {
	bins := t.TempDir()
	agent := fakeELF(t, bins, "agent", emAARCH64, true)
	root := fakeRoot(t, emARM, false)
	o := opts(root, agent)
	o.Root, o.Force = true, true
	if _, err := Bundle(o); err != nil {
		t.Fatal(err)
	}
	checkTree(t, root, agent, false)
}

func TestRootArch(t *testing.T) {
	if arch, _ := RootArch(t.TempDir()); arch != "" {
		t.Errorf("empty dir: %q", arch)
	}
	root := fakeRoot(t, emX86_64, true)
	if arch, where := RootArch(root); arch != "amd64" || where != "/usr/bin/dash" {
		t.Errorf("got %q %q", arch, where)
	}
	// An absolute link must resolve inside the root, never to the host's file.
	loop := t.TempDir()
	os.MkdirAll(filepath.Join(loop, "bin"), 0o755)
	os.Symlink("/bin/sh", filepath.Join(loop, "bin/sh"))
	if arch, _ := RootArch(loop); arch != "" {
		t.Errorf("self loop: %q", arch)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"pi-07": "'pi-07'", "a'b": `'a'\''b'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// caPEM writes a self-signed CA certificate into dir.
func caPEM(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A bundle holds what a first boot needs: central's URL, the join token
// and the CA, and the agent's own loader (flags, config file, token file,
// CA file) accepts it, with the device's paths moved into the bundle.
func TestBundleFirstBootConfigLoads(t *testing.T) {
	bins := t.TempDir()
	agent := fakeELF(t, bins, "agent-linux-arm64", emAARCH64, true)
	dir := t.TempDir()
	o := opts(dir, agent)
	o.Central, o.CAFile = "https://central.example:7600", caPEM(t, bins)
	if _, err := Bundle(o); err != nil {
		t.Fatal(err)
	}
	if a, b := string(must(os.ReadFile(o.CAFile))), string(must(os.ReadFile(filepath.Join(dir, CAPath)))); a != b {
		t.Errorf("%s differs from the CA given", CAPath)
	}
	if fi, err := os.Stat(filepath.Join(dir, CAPath)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: %v %v", CAPath, fi, err)
	}
	// The device's paths, moved into the bundle: the config names them
	// absolutely (/etc/tether/...), as the device will read them.
	body := string(must(os.ReadFile(filepath.Join(dir, ConfigPath))))
	for _, p := range []string{"/" + CAPath, "/" + TokenPath} {
		if !strings.Contains(body, `"`+p+`"`) {
			t.Fatalf("config does not name %s:\n%s", p, body)
		}
		body = strings.ReplaceAll(body, `"`+p+`"`, `"`+filepath.Join(dir, p)+`"`)
	}
	moved := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(moved, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := config.RegisterFlags(fs)
	if err := fs.Parse([]string{"-config", moved}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.LoadEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the agent refuses the bundle's config: %v\n%s", err, body)
	}
	if cfg.Central != o.Central || cfg.JoinToken != "tok" || cfg.TLS.CAFile != filepath.Join(dir, CAPath) ||
		strings.Join(cfg.Brokers, ",") != "tcp://site:1883" || cfg.Name != "pi-07" {
		t.Errorf("loaded %+v", cfg)
	}
}
