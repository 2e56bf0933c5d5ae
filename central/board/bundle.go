package board

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/boards"
)

// Errors.
var (
	ErrWrongArch  = errors.New("architecture mismatch")
	ErrNotRoot    = errors.New("not a root file system")
	ErrBadOptions = errors.New("invalid bundle options")
)

// Paths inside the tree, relative to its top.
const (
	// AgentPath is the agent's binary, in a directory of its own: the
	// unit lets the agent (and so its exec tasks) write only there, where
	// an upgrade swaps the binary (docs/upgrades.md).
	AgentPath = "usr/local/lib/tether-agent/agent"
	AgentDir  = "usr/local/lib/tether-agent"
	// AgentLink is a convenience link to AgentPath, for `agent -version`
	// in a shell. It is relative, so it resolves inside a staging dir or a
	// mounted root as on the device, never to this machine's files.
	AgentLink     = "usr/local/bin/agent"
	AgentLinkTo   = "../lib/tether-agent/agent"
	ConfigPath    = "etc/tether/agent.hcl"
	TokenPath     = "etc/tether/join-token"
	CAPath        = "etc/tether/ca.pem"
	UnitPath      = "etc/systemd/system/tether-agent.service"
	WantsPath     = "etc/systemd/system/multi-user.target.wants/tether-agent.service"
	DataDir       = "var/lib/tether-agent"
	FirstBootPath = "usr/local/lib/tether/firstboot.sh"
	FirstUnitPath = "etc/systemd/system/tether-firstboot.service"
	FirstWants    = "etc/systemd/system/multi-user.target.wants/tether-firstboot.service"
)

// Options describe one bundle.
type Options struct {
	Board      string // boards/<Board>
	Name       string // node name
	Datacenter string
	Brokers    []string
	JoinToken  string // written to TokenPath (0600), named by join_token_file
	// Central is central's HTTP API URL (key central): needed with a
	// join token, which the agent enrols with there on first boot.
	Central string
	// CAFile is a PEM CA file on this machine, copied to CAPath and named
	// by tls { ca_file }: for an https:// central and TLS brokers.
	CAFile string
	Meta   map[string]string
	Dir    string // where the tree goes
	// Root says Dir is an OS root (e.g. an SD card's mounted rootfs): it
	// must hold etc/, and its binaries must be of the board's architecture.
	Root      bool
	Agent     string // path of the agent binary built for the board's target
	FirstBoot bool   // add the Raspberry Pi OS first-boot hook
	Force     bool   // write even when the architectures do not match
}

// Change is what happened to one path.
type Change struct {
	Path   string // relative to Dir
	Action string // created | updated | unchanged
}

// Report lists every path of the tree, in writing order.
type Report struct {
	Board   string
	Changes []Change
}

// Changed counts the paths created or updated.
func (r Report) Changed() int {
	n := 0
	for _, c := range r.Changes {
		if c.Action != "unchanged" {
			n++
		}
	}
	return n
}

// Bundle writes the agent tree for o.Board into o.Dir. Running it twice
// with the same options changes nothing the second time.
func Bundle(o Options) (Report, error) {
	b, err := boards.Load(o.Board)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Board: b.Name}
	if o.Dir == "" {
		return rep, fmt.Errorf("%w: no output directory: set -out DIR or -root DIR", ErrBadOptions)
	}
	if o.Agent == "" {
		return rep, fmt.Errorf("%w: no agent binary: run `make cross` or pass -agent FILE (built for %s)", ErrBadOptions, b.Target.Suffix())
	}
	for k := range o.Meta {
		if k == "board" || strings.HasPrefix(k, "board.") {
			return rep, fmt.Errorf("%w: meta key %q is set by the board profile: pick another key", ErrBadOptions, k)
		}
	}
	if o.JoinToken != "" && strings.TrimSpace(o.JoinToken) != o.JoinToken || strings.ContainsAny(o.JoinToken, " \t\r\n") {
		return rep, fmt.Errorf("%w: the join token contains white space: pass the token exactly as `central node join-token create` printed it", ErrBadOptions)
	}
	if err := CheckBinary(o.Agent, b.Target); err != nil && !o.Force {
		return rep, err
	}
	if o.Root {
		if _, err := os.Stat(filepath.Join(o.Dir, "etc")); err != nil {
			return rep, fmt.Errorf("%w: %s has no etc/ directory: mount the SD card's root partition there, or use -out for a staging dir", ErrNotRoot, o.Dir)
		}
	}
	if arch, where := RootArch(o.Dir); arch != "" && arch != b.RootArch && !o.Force {
		return rep, fmt.Errorf("%w: %s holds an OS for %s (%s) but board %s needs %s: pick the board that matches the OS image, or pass -force", ErrWrongArch, o.Dir, arch, where, b.Name, b.RootArch)
	}
	params := boards.ConfigParams{Name: o.Name, Datacenter: o.Datacenter, Brokers: o.Brokers, DataDir: "/" + DataDir, Meta: o.Meta, Central: o.Central}
	// The files the config names on the device, and where they are here,
	// so the check reads what the device will read.
	here := map[string]string{}
	var tok, ca []byte
	if o.JoinToken != "" {
		params.JoinTokenFile = "/" + TokenPath
		tok = []byte(o.JoinToken + "\n")
	}
	if o.CAFile != "" {
		if ca, err = os.ReadFile(o.CAFile); err != nil {
			return rep, fmt.Errorf("%w: -tls-ca-file: %v", ErrBadOptions, err)
		}
		params.CAFile = "/" + CAPath
		here[params.CAFile] = o.CAFile
	}
	cfg, err := b.RenderConfig(params)
	if err != nil {
		return rep, err
	}
	if err := CheckConfig(cfg, here); err != nil {
		return rep, err
	}
	agent, err := os.ReadFile(o.Agent)
	if err != nil {
		return rep, fmt.Errorf("agent binary: %w (run `make cross` or pass -agent FILE)", err)
	}
	w := &writer{dir: o.Dir, rep: &rep}
	w.dirAt(DataDir, 0o700)
	w.file(AgentPath, agent, 0o755)
	w.link(AgentLink, AgentLinkTo)
	if o.JoinToken != "" {
		w.file(TokenPath, tok, 0o600)
	}
	if o.CAFile != "" {
		w.file(CAPath, ca, 0o644)
	}
	w.file(ConfigPath, cfg, 0o600)
	w.file(UnitPath, b.Unit, 0o644)
	w.link(WantsPath, "/"+UnitPath)
	if o.FirstBoot {
		w.file(FirstBootPath, []byte(firstBootScript(o.Name)), 0o755)
		w.file(FirstUnitPath, []byte(firstBootUnit), 0o644)
		w.link(FirstWants, "/"+FirstUnitPath)
	}
	return rep, w.err
}

// CheckConfig parses and validates a rendered agent.hcl as the agent will
// at boot (config.ParseFile, then Validate: a join token without central,
// a CA file that holds no certificate...). here maps files the config
// names on the device (the CA file) to where they are on this machine;
// the check reads those instead.
func CheckConfig(cfg []byte, here map[string]string) error {
	c := config.Default()
	if err := config.ParseFile(ConfigPath, cfg, &c); err != nil {
		return fmt.Errorf("%w: generated agent config does not parse: %v", ErrBadOptions, err)
	}
	if p, ok := here[c.TLS.CAFile]; ok && p != "" {
		c.TLS.CAFile = p
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: the agent would refuse this config at boot: %v", ErrBadOptions, err)
	}
	return nil
}

// CheckBinary checks that the file at path is an ELF executable for t
// (machine, and GOARM for Go binaries built for 32-bit ARM).
func CheckBinary(path string, t boards.Target) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("agent binary %s: %w (build it with `make cross`)", path, err)
	}
	defer f.Close()
	arch := goarchOf(f)
	if arch != t.GOARCH {
		return fmt.Errorf("%w: agent binary %s is built for %s, the board needs %s: use dist/agent-%s or pass -force", ErrWrongArch, path, arch, t.Suffix(), t.Suffix())
	}
	if t.GOARCH != "arm" {
		return nil
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil // not a Go binary: the machine matched, trust it
	}
	for _, s := range bi.Settings {
		if s.Key == "GOARM" {
			if v, _, _ := strings.Cut(s.Value, ","); v > t.GOARM {
				return fmt.Errorf("%w: agent binary %s is built for armv%s, which does not run on the board's armv%s CPU: use dist/agent-%s or pass -force", ErrWrongArch, path, v, t.GOARM, t.Suffix())
			}
		}
	}
	return nil
}

func goarchOf(f *elf.File) string {
	switch f.Machine {
	case elf.EM_ARM:
		return "arm"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_386:
		return "386"
	case elf.EM_RISCV:
		return "riscv64"
	}
	return strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
}

// rootProbes are binaries every Linux root has; the first found decides.
var rootProbes = []string{"bin/sh", "usr/bin/sh", "bin/busybox", "usr/bin/env", "sbin/init", "lib/systemd/systemd"}

// RootArch is the GOARCH of the OS under dir (its /bin/sh, following
// symlinks inside dir), and the file that told; "" when dir holds no OS.
func RootArch(dir string) (arch, where string) {
	for _, p := range rootProbes {
		real, ok := resolveIn(dir, p)
		if !ok {
			continue
		}
		f, err := elf.Open(filepath.Join(dir, real))
		if err != nil {
			continue
		}
		arch = goarchOf(f)
		f.Close()
		return arch, "/" + real
	}
	return "", ""
}

// resolveIn follows symlinks of rel as if dir were /, so an SD card's
// absolute links do not lead into the host's own /bin.
func resolveIn(dir, rel string) (string, bool) {
	parts := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	var done []string
	for hops := 0; len(parts) > 0; {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{dir}, append(done, p)...)...)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, p)
			continue
		}
		if hops++; hops > 40 {
			return "", false
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", false
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return filepath.Join(done...), len(done) > 0
}

// writer writes files only when they differ and records what it did. The
// first error stops it.
type writer struct {
	dir string
	rep *Report
	err error
}

func (w *writer) record(rel, action string) {
	w.rep.Changes = append(w.rep.Changes, Change{Path: rel, Action: action})
}

// mkParents makes rel's parent directories. It refuses a parent that is a
// symbolic link: in an SD card's root, /usr/local/bin -> /opt/bin would
// lead the write (and the removal of the file it replaces) onto this
// machine's own /opt/bin.
func (w *writer) mkParents(rel string) bool {
	if w.err != nil {
		return false
	}
	cur := w.dir
	for _, part := range strings.Split(filepath.Dir(filepath.Clean(rel)), string(filepath.Separator)) {
		if part == "." {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(cur)
			w.err = fmt.Errorf("bundle: %s is a symbolic link (to %s): the bundle does not write through links, which can lead out of %s; make it a directory, or write with -out and copy the tree", cur, to, w.dir)
			return false
		}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(w.dir, rel)), 0o755); err != nil {
		w.err = fmt.Errorf("bundle: %w", err)
		return false
	}
	return true
}

func (w *writer) dirAt(rel string, mode fs.FileMode) {
	if !w.mkParents(rel) {
		return
	}
	p := filepath.Join(w.dir, rel)
	fi, err := os.Lstat(p)
	switch {
	case err == nil && fi.IsDir() && fi.Mode().Perm() == mode:
		w.record(rel+"/", "unchanged")
	case err == nil && fi.IsDir():
		w.err = os.Chmod(p, mode)
		w.record(rel+"/", "updated")
	case err == nil:
		w.err = fmt.Errorf("bundle: %s exists and is not a directory: move it away", p)
	default:
		w.err = os.Mkdir(p, mode)
		w.record(rel+"/", "created")
	}
}

func (w *writer) file(rel string, data []byte, mode fs.FileMode) {
	if !w.mkParents(rel) {
		return
	}
	p := filepath.Join(w.dir, rel)
	old, err := os.ReadFile(p)
	fi, serr := os.Lstat(p)
	if err == nil && serr == nil && bytes.Equal(old, data) && fi.Mode().IsRegular() && fi.Mode().Perm() == mode {
		w.record(rel, "unchanged")
		return
	}
	action := "created"
	if serr == nil {
		action = "updated"
	}
	// Write beside it and rename, so a pulled SD card never holds half a binary.
	tmp := p + ".tether-new"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		w.err = fmt.Errorf("bundle: %w", err)
		return
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile's mode is masked by umask
		w.err = fmt.Errorf("bundle: %w", err)
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		w.err = fmt.Errorf("bundle: %w", err)
		return
	}
	w.record(rel, action)
}

func (w *writer) link(rel, target string) {
	if !w.mkParents(rel) {
		return
	}
	p := filepath.Join(w.dir, rel)
	cur, err := os.Readlink(p)
	if err == nil && cur == target {
		w.record(rel, "unchanged")
		return
	}
	action := "created"
	if _, err := os.Lstat(p); err == nil {
		action = "updated"
		if err := os.Remove(p); err != nil {
			w.err = fmt.Errorf("bundle: %w", err)
			return
		}
	}
	if err := os.Symlink(target, p); err != nil {
		w.err = fmt.Errorf("bundle: %w", err)
		return
	}
	w.record(rel, action)
}

// Paths lists the tree's paths for the options, sorted (for callers that
// check a bundle).
func Paths(firstBoot, joinToken bool) []string {
	out := []string{AgentPath, AgentLink, ConfigPath, UnitPath, WantsPath, DataDir + "/"}
	if joinToken {
		out = append(out, TokenPath)
	}
	if firstBoot {
		out = append(out, FirstBootPath, FirstUnitPath, FirstWants)
	}
	sort.Strings(out)
	return out
}
