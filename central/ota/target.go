package ota

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// MaxBinarySize bounds one release binary (the agent is ~12 MB).
const MaxBinarySize = 64 << 20

// AgentPackage is the Go package path of the agent's main.
const AgentPackage = "github.com/tether-edge/tether/cmd/agent"

// ErrNotAgent is returned for a file that is not a Linux agent binary.
var ErrNotAgent = errors.New("not a Linux agent binary")

// Binary is what Inspect learnt from a release binary.
type Binary struct {
	Target    string // structs.Target*
	GoVersion string
	// Version is the binary's main.version when its build info records
	// the linker flags ("" when it does not: -trimpath drops them).
	Version string
}

// Inspect reads a binary's target from its ELF header (class, machine)
// and its Go build info (GOOS, GOARCH, GOARM: armv6 and armv7 share one
// ELF machine), and checks it is the agent. It never looks at a name.
func Inspect(r io.ReaderAt) (Binary, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Binary{}, fmt.Errorf("%w: not an ELF executable (%v); build it with `make cross`", ErrNotAgent, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return Binary{}, fmt.Errorf("%w: ELF type %v is not an executable", ErrNotAgent, f.Type)
	}
	var arch string
	switch {
	case f.Machine == elf.EM_X86_64 && f.Class == elf.ELFCLASS64:
		arch = "amd64"
	case f.Machine == elf.EM_AARCH64 && f.Class == elf.ELFCLASS64:
		arch = "arm64"
	case f.Machine == elf.EM_ARM && f.Class == elf.ELFCLASS32:
		arch = "arm"
	default:
		return Binary{}, fmt.Errorf("%w: ELF machine %v (%v) is not a target agents run on (linux/amd64, linux/arm64, linux/armv7, linux/armv6)", ErrNotAgent, f.Machine, f.Class)
	}
	bi, err := buildinfo.Read(r)
	if err != nil {
		return Binary{}, fmt.Errorf("%w: no Go build info (%v); build it with `make cross`", ErrNotAgent, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if goos := settings["GOOS"]; goos != "linux" {
		return Binary{}, fmt.Errorf("%w: built for GOOS %q, want linux", ErrNotAgent, goos)
	}
	if goarch := settings["GOARCH"]; goarch != arch {
		return Binary{}, fmt.Errorf("%w: ELF machine says %s but the build info says GOARCH %q", ErrNotAgent, arch, goarch)
	}
	if bi.Path != AgentPackage {
		return Binary{}, fmt.Errorf("%w: it is %q, not the agent (%s)", ErrNotAgent, bi.Path, AgentPackage)
	}
	b := Binary{GoVersion: bi.GoVersion, Version: ldflagsVersion(settings["-ldflags"])}
	switch arch {
	case "amd64":
		b.Target = protocol.TargetLinuxAMD64
	case "arm64":
		b.Target = protocol.TargetLinuxARM64
	case "arm":
		switch v, _, _ := strings.Cut(settings["GOARM"], ","); v {
		case "6":
			b.Target = protocol.TargetLinuxARMv6
		case "7":
			b.Target = protocol.TargetLinuxARMv7
		default:
			return Binary{}, fmt.Errorf("%w: 32-bit ARM with GOARM %q: build it with GOARM=6 or GOARM=7", ErrNotAgent, settings["GOARM"])
		}
	}
	return b, nil
}

// ldflagsVersion finds -X main.version=V in recorded linker flags.
func ldflagsVersion(flags string) string {
	fields := strings.Fields(flags)
	for i, f := range fields {
		var def string
		switch {
		case f == "-X" && i+1 < len(fields):
			def = fields[i+1]
		case strings.HasPrefix(f, "-X="):
			def = strings.TrimPrefix(f, "-X=")
		default:
			continue
		}
		def = strings.Trim(def, `'"`)
		if v, ok := strings.CutPrefix(def, "main.version="); ok {
			return v
		}
	}
	return ""
}

// CheckVersion checks that a binary is version v: its recorded main.version
// when the build info has it, else that the string v occurs in the binary
// at all (-X main.version=v stores it in the data; a binary built without
// it would report "dev" and never count as upgraded).
func CheckVersion(b Binary, data io.ReaderAt, size int64, v string) error {
	if b.Version != "" {
		if b.Version != v {
			return fmt.Errorf("the binary is version %q (its -X main.version), not %q", b.Version, v)
		}
		return nil
	}
	if v == "" || v == "dev" {
		return fmt.Errorf("version %q: give the version the binary was built with (-X main.version=...)", v)
	}
	found, err := contains(data, size, []byte(v))
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("the binary does not contain the version string %q: build it with `make VERSION=%s cross` (-X main.version=%s)", v, v, v)
	}
	return nil
}

// contains reports whether needle occurs in the first size bytes of r.
func contains(r io.ReaderAt, size int64, needle []byte) (bool, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(needle))
	for off := int64(0); off < size; off += chunk {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			return false, err
		}
		if bytes.Contains(buf[:n], needle) {
			return true, nil
		}
	}
	return false, nil
}
