package wasm

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/schema"
)

// pageSize is the size of one WebAssembly memory page.
const pageSize = 65536

// maxPages is the most a 32-bit guest can address (4 GiB).
const maxPages = 65536

// taskConfig is a task's driver config block, decoded and checked.
type taskConfig struct {
	Module     string   // absolute path of the module file
	Args       []string // argv[1:]
	Entrypoint string   // exported function to call
}

// parseTaskConfig decodes cfg.Config; relative module paths are resolved
// against cfg.TaskDir.
func parseTaskConfig(cfg *drivers.TaskConfig) (taskConfig, error) {
	var tc taskConfig
	wc, err := schema.Wasm(cfg.Config)
	if err != nil {
		return tc, err
	}
	mod := wc.Module
	if !filepath.IsAbs(mod) {
		if cfg.TaskDir == "" {
			return tc, fmt.Errorf("wasm driver: module %q is relative but the task has no task dir; use an absolute path", mod)
		}
		mod = filepath.Join(cfg.TaskDir, mod)
	}
	tc.Module = filepath.Clean(mod)
	tc.Args = wc.Args
	tc.Entrypoint = wc.Entrypoint
	return tc, nil
}

// memoryPages converts resources.memory (MiB) to WebAssembly pages; 0 means
// no limit beyond the 4 GiB a 32-bit guest can address.
func memoryPages(memoryMB int) uint32 {
	if memoryMB <= 0 || memoryMB >= maxPages/16 {
		return maxPages
	}
	return uint32(memoryMB) * (1 << 20 / pageSize)
}

// listenEnvName is the variable that tells a guest the descriptor of the
// pre-opened listener for a port label: TETHER_LISTEN_FD_HTTP.
func listenEnvName(label string) string {
	var b strings.Builder
	b.WriteString("TETHER_LISTEN_FD_")
	for _, r := range label {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// guestEnv returns the task's environment in a stable order plus one
// TETHER_LISTEN_FD_<label> per listener, whose descriptors start at firstFD.
func guestEnv(env map[string]string, ports []drivers.Port, firstFD int) [][2]string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys)+len(ports))
	for _, k := range keys {
		out = append(out, [2]string{k, env[k]})
	}
	for i, p := range ports {
		out = append(out, [2]string{listenEnvName(p.Label), strconv.Itoa(firstFD + i)})
	}
	return out
}
