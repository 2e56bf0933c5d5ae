package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
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
	for _, t := range targets {
		out := filepath.Join(dir, "agent-"+t.name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-w", "-o", out, "./cmd/agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.goarch, "GOARM="+t.goarm)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", t.name, err, msg)
		}
		nm, err := exec.Command("go", "tool", "nm", "-size", out).Output()
		if err != nil {
			return fmt.Errorf("go tool nm %s: %v", t.name, err)
		}
		sums[t.name], totals[t.name] = perPackage(nm)
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
	fmt.Printf("| **all symbols** | %d | %d |\n\n", totals["amd64"]/1024, totals["armv6"]/1024)
	return nil
}

// perPackage groups `go tool nm -size` lines ("addr size type name") by
// the package of each symbol; dependencies are grouped by module path.
func perPackage(nm []byte) (map[string]int64, int64) {
	out := map[string]int64{}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(nm))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		// Only what the file holds: text, read-only data, data (not
		// bss/noptrbss, which cost memory but no bytes on disk).
		if err != nil || size == 0 || !strings.ContainsAny(f[2], "TtRrDd") {
			continue
		}
		total += size
		out[group(strings.Join(f[3:], " "))] += size
	}
	return out, total
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
