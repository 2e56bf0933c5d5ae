package schema

import "strings"

// wasmKnown are the keys of a wasm task's config block.
var wasmKnown = []string{"module", "args", "entrypoint"}

// WasmConfig is a wasm task's config block, decoded and checked.
type WasmConfig struct {
	Module     string   // as written: absolute, or relative to the task dir
	Args       []string // argv[1:]
	Entrypoint string   // exported function to call; default _start
}

// Wasm decodes a wasm config block on the agent.
func Wasm(cfg map[string]any) (WasmConfig, error) {
	return parseWasm(reader{driver: "wasm", cfg: cfg})
}

func parseWasm(r reader) (WasmConfig, error) {
	var wc WasmConfig
	if err := r.keys(wasmKnown, nil); err != nil {
		return wc, err
	}
	mod, ok, err := r.str("module")
	if err != nil {
		return wc, err
	}
	if !ok || strings.TrimSpace(mod) == "" {
		return wc, r.errf("module", `e.g. module = "local/app.wasm" (relative to the task dir) or an absolute path`, `config key "module" is required`)
	}
	wc.Module = mod
	if wc.Args, _, err = r.strs("args"); err != nil {
		return wc, err
	}
	ep, ok, err := r.str("entrypoint")
	if err != nil {
		return wc, err
	}
	wc.Entrypoint = "_start"
	if ok && ep != "" {
		wc.Entrypoint = ep
	}
	return wc, nil
}
