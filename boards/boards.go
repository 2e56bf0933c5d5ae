package boards

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
	"time"
)

// ErrUnknownBoard is returned by Load for a name with no folder.
var ErrUnknownBoard = errors.New("unknown board")

// Files of a board folder.
const (
	ProfileFile  = "board.json"
	TemplateFile = "agent.hcl.tmpl"
	UnitFile     = "tether-agent.service"
	ReadmeFile   = "README.md"
)

//go:embed */board.json */agent.hcl.tmpl */tether-agent.service */README.md
var files embed.FS

// Target is a Go build target.
type Target struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	GOARM  string `json:"goarm,omitempty"`
}

// Suffix names the target's artifacts: "linux-armv6", "linux-arm64".
func (t Target) Suffix() string {
	if t.GOARCH == "arm" {
		return t.GOOS + "-armv" + t.GOARM
	}
	return t.GOOS + "-" + t.GOARCH
}

// Emulator is how tests run the board's binary on another machine.
type Emulator struct {
	Binary string `json:"binary"`        // qemu-arm-static, qemu-aarch64-static
	CPU    string `json:"cpu,omitempty"` // -cpu value: arm1176, cortex-a7
}

// Reserved is what the agent leaves to the OS and itself.
type Reserved struct {
	CPUMHz   int `json:"cpu_mhz"`
	MemoryMB int `json:"memory_mb"`
}

// Hints tell the fingerprint and operators what to expect on the board.
type Hints struct {
	ModelPrefix string   `json:"model_prefix,omitempty"` // start of /proc/device-tree/model
	ThermalZone string   `json:"thermal_zone,omitempty"` // SoC temperature, millidegrees C
	CPUFeatures []string `json:"cpu_features,omitempty"` // expected /proc/cpuinfo flags
}

// Profile is a board's board.json.
type Profile struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Target      Target    `json:"target"`
	RootArch    string    `json:"root_arch"` // GOARCH of the OS root a bundle may be written into
	Emulator    *Emulator `json:"emulator,omitempty"`
	WasmEngine  string    `json:"wasm_engine"` // compiler | interpreter
	Reserved    Reserved  `json:"reserved"`
	Heartbeat   string    `json:"heartbeat"`
	FirstBoot   bool      `json:"first_boot"` // Raspberry Pi OS: offer the first-boot hook
	Fingerprint Hints     `json:"fingerprint"`
}

// Board is a loaded board folder.
type Board struct {
	Profile
	Unit   []byte // the systemd unit, as written into a bundle
	README []byte
	tmpl   *template.Template
}

// Names lists the boards, sorted.
func Names() []string {
	ents, err := fs.ReadDir(files, ".")
	if err != nil {
		panic("BUG: embedded boards unreadable: " + err.Error())
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Load reads and checks the named board.
func Load(name string) (*Board, error) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownBoard, name, strings.Join(Names(), ", "))
	}
	raw, err := files.ReadFile(path.Join(name, ProfileFile))
	if err != nil {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownBoard, name, strings.Join(Names(), ", "))
	}
	b := &Board{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b.Profile); err != nil {
		return nil, fmt.Errorf("boards/%s/%s: %w", name, ProfileFile, err)
	}
	if err := b.Profile.check(name); err != nil {
		return nil, fmt.Errorf("boards/%s/%s: %w", name, ProfileFile, err)
	}
	if b.Unit, err = files.ReadFile(path.Join(name, UnitFile)); err != nil {
		return nil, fmt.Errorf("boards/%s: %w", name, err)
	}
	if b.README, err = files.ReadFile(path.Join(name, ReadmeFile)); err != nil {
		return nil, fmt.Errorf("boards/%s: %w", name, err)
	}
	src, err := files.ReadFile(path.Join(name, TemplateFile))
	if err != nil {
		return nil, fmt.Errorf("boards/%s: %w", name, err)
	}
	b.tmpl, err = template.New(TemplateFile).Funcs(template.FuncMap{"q": Quote}).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("boards/%s/%s: %w", name, TemplateFile, err)
	}
	return b, nil
}

func (p *Profile) check(dir string) error {
	var errs []error
	if p.Name != dir {
		errs = append(errs, fmt.Errorf("name %q differs from the folder %q", p.Name, dir))
	}
	switch {
	case p.Target.GOOS != "linux":
		errs = append(errs, fmt.Errorf("target.goos %q: only linux boards are supported", p.Target.GOOS))
	case p.Target.GOARCH == "arm" && p.Target.GOARM != "6" && p.Target.GOARM != "7":
		errs = append(errs, fmt.Errorf("target.goarm %q: use \"6\" or \"7\" for goarch arm", p.Target.GOARM))
	case p.Target.GOARCH != "arm" && p.Target.GOARM != "":
		errs = append(errs, fmt.Errorf("target.goarm is set for goarch %q: remove it", p.Target.GOARCH))
	case p.Target.GOARCH != "arm" && p.Target.GOARCH != "arm64" && p.Target.GOARCH != "amd64":
		errs = append(errs, fmt.Errorf("target.goarch %q: use arm, arm64 or amd64", p.Target.GOARCH))
	}
	if p.RootArch == "" {
		errs = append(errs, errors.New("root_arch is empty: set the GOARCH of the board's OS (arm, arm64, amd64)"))
	}
	if p.WasmEngine != "compiler" && p.WasmEngine != "interpreter" {
		errs = append(errs, fmt.Errorf("wasm_engine %q: use compiler or interpreter", p.WasmEngine))
	}
	if p.WasmEngine == "compiler" && p.Target.GOARCH == "arm" {
		errs = append(errs, errors.New("wasm_engine compiler on 32-bit ARM: wazero has no compiler there, use interpreter"))
	}
	if d, err := time.ParseDuration(p.Heartbeat); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("heartbeat %q: use a duration of at least 1s, e.g. \"15s\"", p.Heartbeat))
	}
	if p.Reserved.CPUMHz < 0 || p.Reserved.MemoryMB < 0 {
		errs = append(errs, errors.New("reserved cpu_mhz and memory_mb must not be negative"))
	}
	return errors.Join(errs...)
}

// ConfigParams fill a board's agent.hcl.tmpl.
type ConfigParams struct {
	Name       string
	Datacenter string
	Brokers    []string
	// JoinTokenFile is the file on the device that holds the join token
	// (join_token_file): the token itself is never written into the
	// config, nor onto the agent's command line, where ps shows it.
	JoinTokenFile string
	// Central is central's HTTP API URL, where the agent enrols with its
	// join token (central).
	Central string
	// CAFile is the CA file on the device (tls { ca_file }), for an
	// https:// central and TLS brokers.
	CAFile  string
	DataDir string
	Meta    map[string]string // written sorted, after the board's own keys
	Board   *Profile          // set by RenderConfig
}

// MetaKeys are Meta's keys, sorted, for the template.
func (c ConfigParams) MetaKeys() []string {
	keys := make([]string, 0, len(c.Meta))
	for k := range c.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RenderConfig fills the board's config template. The caller checks the
// result with agent/config (see central/board).
func (b *Board) RenderConfig(p ConfigParams) ([]byte, error) {
	p.Board = &b.Profile
	var buf bytes.Buffer
	if err := b.tmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("boards/%s/%s: %w", b.Name, TemplateFile, err)
	}
	return buf.Bytes(), nil
}

// Quote returns s as a double-quoted string of the agent's config format
// (escapes \\, \", \n, \t, \r).
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
