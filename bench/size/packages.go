package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// packages builds an unstripped agent per 32/64-bit target and sums the
// symbol sizes per package (text, rodata and data symbols; the stripped
// file is these plus pclntab-like tables counted under "go:").
func packages(top int) error {
	dir, err := os.MkdirTemp("", "tether-size-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	targets := []struct{ name, goarch, goarm string }{{"amd64", "amd64", ""}, {"armv6", "arm", "6"}}
	sums := map[string]map[string]int64{}
	totals := map[string]int64{}
	sections := map[string][]section{}
	for _, t := range targets {
		out := filepath.Join(dir, "agent-"+t.name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-w", "-o", out, "./cmd/agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.goarch, "GOARM="+t.goarm)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", t.name, err, msg)
		}
		if sums[t.name], totals[t.name], err = perPackage(out); err != nil {
			return fmt.Errorf("symbols of %s: %v", t.name, err)
		}
		if sections[t.name], err = fileSections(out); err != nil {
			return err
		}
	}
	type row struct {
		pkg string
		sz  int64
	}
	var rows []row
	for p, s := range sums["amd64"] {
		rows = append(rows, row{p, s})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].sz > rows[j].sz })
	fmt.Printf("## Where the bytes go (symbols per package, unstripped build; top %d by amd64)\n\n| package | amd64 KB | armv6 KB |\n|---|---|---|\n", top)
	for i, r := range rows {
		if i == top {
			break
		}
		fmt.Printf("| %s | %d | %d |\n", r.pkg, r.sz/1024, sums["armv6"][r.pkg]/1024)
	}
	var ours [2]int64
	for i, t := range []string{"amd64", "armv6"} {
		for p, sz := range sums[t] {
			if p == "main" || strings.HasPrefix(p, "agent") || strings.HasPrefix(p, "drivers") || strings.HasPrefix(p, "protocol") {
				ours[i] += sz
			}
		}
	}
	for _, p := range []string{"std text/template", "std text/template/parse", "agent/template"} {
		fmt.Printf("| %s | %d | %d |\n", p, sums["amd64"][p]/1024, sums["armv6"][p]/1024)
	}
	fmt.Printf("| all of Tether's own packages | %d | %d |\n", ours[0]/1024, ours[1]/1024)
	fmt.Printf("| **all symbols** | %d | %d |\n\n", totals["amd64"]/1024, totals["armv6"]/1024)
	fmt.Printf("| section (amd64) | KB |\n|---|---|\n")
	for _, sec := range sections["amd64"] {
		fmt.Printf("| %s | %d |\n", sec.name, sec.size/1024)
	}
	fmt.Println()
	return nil
}

// perPackage sums symbol sizes per package from the ELF symbol table
// (what `go tool nm -size` prints), counting only symbols stored in the
// file: .bss/.noptrbss (e.g. the FIPS DRBG's 32 MB buffer) cost memory
// when touched but no bytes on disk.
func perPackage(path string) (map[string]int64, int64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, 0, err
	}
	out := map[string]int64{}
	var total int64
	for _, s := range syms {
		if s.Size == 0 || int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
			continue
		}
		if f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		total += int64(s.Size)
		out[group(s.Name)] += int64(s.Size)
	}
	return out, total, nil
}

// group maps a symbol to its package, dependencies to their module and
// our own packages to themselves ("agent/template").
func group(sym string) string {
	switch {
	case strings.HasPrefix(sym, "go:") || strings.HasPrefix(sym, "type:") || strings.HasPrefix(sym, "runtime."):
		if i := strings.IndexAny(sym, ".*"); i > 0 && strings.HasPrefix(sym, "type:") {
			return "type descriptors"
		}
		if strings.HasPrefix(sym, "go:") {
			return "go: (func tables, strings)"
		}
		return "runtime"
	}
	// The package is everything before the first '.' after the last '/'.
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	pkg := sym
	if dot >= 0 {
		pkg = sym[:slash+1+dot]
	}
	const us = "github.com/tether-edge/tether/"
	if strings.HasPrefix(pkg, us) {
		return strings.TrimPrefix(pkg, us)
	}
	for _, mod := range []string{"github.com/tetratelabs/wazero", "github.com/eclipse/paho.mqtt.golang", "github.com/fxamacker/cbor", "go.etcd.io/bbolt", "golang.org/x/net", "golang.org/x/sys", "github.com/gorilla/websocket"} {
		if strings.HasPrefix(pkg, mod) {
			return mod
		}
	}
	if !strings.Contains(pkg, ".") || !strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") {
		return "std " + pkg // standard library: per package
	}
	return pkg
}

type section struct {
	name string
	size int64
}

// fileSections lists the sections that are stored in the file and survive
// stripping, largest first.
func fileSections(path string) ([]section, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []section
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || s.Size < 16<<10 || s.Name == ".symtab" || s.Name == ".strtab" {
			continue
		}
		out = append(out, section{s.Name, int64(s.Size)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].size > out[j].size })
	return out, nil
}
