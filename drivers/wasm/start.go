package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sock"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// maxModuleBytes bounds what Start reads into memory.
const maxModuleBytes = 512 << 20

var wasmMagic = []byte("\x00asm")

// Start implements drivers.Driver. It returns once the guest is
// instantiated and its entrypoint has been called on a new goroutine.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	tc, err := parseTaskConfig(cfg)
	if err != nil {
		return nil, err
	}
	bin, err := readModule(tc.Module)
	if err != nil {
		return nil, err
	}
	limit := memoryPages(cfg.MemoryMB)
	// The guest's context outlives Start's: it ends when the guest is stopped.
	runCtx, cancel := context.WithCancel(context.Background())
	h, err := d.instantiate(ctx, runCtx, cancel, cfg, tc, bin, limit)
	if err != nil {
		cancel()
		return nil, err
	}
	fn := h.mod.ExportedFunction(tc.Entrypoint)
	go h.run(runCtx, fn)
	d.log.Debug("started", "task", cfg.ID, "module", tc.Module, "memory_pages", limit)
	return h, nil
}

// readModule reads a module file and checks that it is WebAssembly.
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("wasm driver: module %s: %w; check config.module (relative paths start at the task dir) or add an artifact block that downloads it", path, ErrModuleNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("wasm driver: module %s: %v", path, err)
	}
	defer f.Close()
	bin, err := io.ReadAll(io.LimitReader(f, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wasm driver: reading module %s: %v", path, err)
	}
	if len(bin) > maxModuleBytes {
		return nil, fmt.Errorf("wasm driver: module %s is larger than %d MiB; is it really a WebAssembly module?", path, maxModuleBytes>>20)
	}
	if !bytes.HasPrefix(bin, wasmMagic) {
		hint := "build it with GOOS=wasip1 GOARCH=wasm go build, or clang --target=wasm32-wasi"
		if t := bytes.TrimSpace(bin); bytes.HasPrefix(t, []byte("(module")) {
			hint = "it looks like WebAssembly text: convert it with wat2wasm"
		}
		return nil, fmt.Errorf("wasm driver: module %s: %w (it does not start with \\0asm); %s", path, ErrNotWasm, hint)
	}
	return bin, nil
}

// instantiate builds the task's runtime and instantiates the guest without
// running it. On error everything it opened is closed again.
func (d *Driver) instantiate(ctx, runCtx context.Context, cancel context.CancelFunc, cfg *drivers.TaskConfig, tc taskConfig, bin []byte, limit uint32) (h *handle, err error) {
	rt := wazero.NewRuntimeWithConfig(runCtx, d.base.WithMemoryLimitPages(limit))
	var closers []io.Closer
	defer func() {
		if err != nil {
			_ = rt.Close(context.Background())
			for _, c := range closers {
				_ = c.Close()
			}
		}
	}()
	if _, err = wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("wasm driver: WASI: %v", err)
	}
	compiled, err := d.compiles.compile(ctx, rt, bin)
	if err != nil {
		return nil, compileError(tc.Module, err, cfg.MemoryMB)
	}
	if err = checkEntrypoint(compiled, tc); err != nil {
		return nil, err
	}

	stdout, stdoutC, err := openLog(cfg.StdoutPath, cfg.Logs)
	if err != nil {
		return nil, err
	}
	closers = append(closers, stdoutC)
	stderr, stderrC, err := openLog(cfg.StderrPath, cfg.Logs)
	if err != nil {
		return nil, err
	}
	closers = append(closers, stderrC)

	fsc, nDirs, err := guestFS(cfg)
	if err != nil {
		return nil, err
	}
	ports := hostPorts(cfg.Ports)
	stopped := make(chan struct{})
	mc := wazero.NewModuleConfig().
		WithName(cfg.ID).
		WithArgs(append([]string{filepath.Base(tc.Module)}, tc.Args...)...).
		WithStdout(stdout).
		WithStderr(stderr).
		WithFSConfig(fsc).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(func(ns int64) { sleep(ns, stopped) }).
		WithOsyield(runtime.Gosched).
		WithRandSource(rand.Reader).
		WithStartFunctions() // the entrypoint runs on the handle's goroutine
	if _, ok := compiled.ExportedFunctions()["_initialize"]; ok && tc.Entrypoint != "_start" {
		mc = mc.WithStartFunctions("_initialize") // a WASI reactor
	}
	for _, kv := range guestEnv(cfg.Env, ports, 3+nDirs) {
		mc = mc.WithEnv(kv[0], kv[1])
	}
	instCtx := ctx
	if len(ports) > 0 {
		sc := sock.NewConfig()
		for _, p := range ports {
			sc = sc.WithTCPListener(d.listenAddr, p.Value)
		}
		instCtx = sock.WithConfig(ctx, sc)
	}
	mem := &memSize{} // Stats reads the guest's memory size from it (memstat.go)
	instCtx = experimental.WithMemoryAllocator(instCtx, mem.allocator())
	mod, err := rt.InstantiateModule(instCtx, compiled, mc)
	if err != nil {
		return nil, instantiateError(tc.Module, err, ports, d.listenAddr)
	}
	portSet := make(map[int]bool, len(ports))
	for _, p := range ports {
		portSet[p.Value] = true
	}
	return &handle{
		ports: portSet,
		state: drivers.HandleState{
			Driver:    "wasm",
			TaskID:    cfg.ID,
			StartedAt: time.Now().UnixMilli(),
		},
		rt:      rt,
		mod:     mod,
		cancel:  cancel,
		stopped: stopped,
		logs:    closers,
		stderr:  stderr,
		limit:   limit,
		mem:     mem,
		waitCh:  make(chan drivers.ExitResult, 1),
		done:    make(chan struct{}),
	}, nil
}

// compileError explains why wazero refused a module.
func compileError(path string, err error, memoryMB int) error {
	msg := err.Error()
	if strings.Contains(msg, "over limit") || strings.Contains(msg, "outside range") {
		return fmt.Errorf("wasm driver: module %s: %w (resources.memory = %d MiB): %v; raise resources.memory", path, ErrMemoryLimit, memoryMB, err)
	}
	return fmt.Errorf("wasm driver: module %s: %w: %v; it must be a WASI preview 1 module (wasip1 or wasm32-wasi)", path, ErrBadModule, err)
}

// instantiateError explains why a compiled module could not be instantiated.
func instantiateError(path string, err error, ports []drivers.Port, addr string) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "listen" {
		var list []string
		for _, p := range ports {
			list = append(list, fmt.Sprintf("%s=%d", p.Label, p.Value))
		}
		return fmt.Errorf("wasm driver: %w on %s (ports %s): %v; another process holds the port", ErrPortInUse, addr, strings.Join(list, ", "), err)
	}
	return fmt.Errorf("wasm driver: module %s: %w: %v; check that it imports only wasi_snapshot_preview1", path, ErrBadModule, err)
}

// checkEntrypoint verifies that the entrypoint is an exported function
// without parameters.
func checkEntrypoint(compiled wazero.CompiledModule, tc taskConfig) error {
	exports := compiled.ExportedFunctions()
	def, ok := exports[tc.Entrypoint]
	if !ok {
		names := make([]string, 0, len(exports))
		for n := range exports {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("wasm driver: module %s does not export entrypoint %q (exports: %s); set config.entrypoint", tc.Module, tc.Entrypoint, strings.Join(names, ", "))
	}
	if len(def.ParamTypes()) != 0 {
		return fmt.Errorf("wasm driver: module %s: entrypoint %q takes %d parameters; it must take none", tc.Module, tc.Entrypoint, len(def.ParamTypes()))
	}
	return nil
}

// openLog opens a task log file for appending; an empty path discards.
// openLog opens the task's log stream base, rotated by size as the guest
// writes (the guest's output passes through this process).
func openLog(base string, p logfile.Policy) (io.Writer, io.Closer, error) {
	if base == "" {
		return io.Discard, io.NopCloser(nil), nil
	}
	w, err := logfile.Open(base, p)
	if err != nil {
		return nil, nil, fmt.Errorf("wasm driver: task log %s: %v", base, err)
	}
	return w, w, nil
}

// guestFS pre-opens the alloc, local and secrets dirs as /alloc, /local and
// /secrets, creating them if needed. It returns how many it mounted: the
// guest's first socket descriptor is 3 plus that.
func guestFS(cfg *drivers.TaskConfig) (wazero.FSConfig, int, error) {
	fsc := wazero.NewFSConfig()
	n := 0
	for _, m := range []struct{ host, guest string }{
		{cfg.AllocDir, "/alloc"},
		{cfg.LocalDir, "/local"},
		{cfg.SecretDir, "/secrets"},
	} {
		if m.host == "" {
			continue
		}
		if err := os.MkdirAll(m.host, 0o755); err != nil {
			return nil, 0, fmt.Errorf("wasm driver: creating %s for %s: %v", m.host, m.guest, err)
		}
		fsc = fsc.WithDirMount(m.host, m.guest)
		n++
	}
	return fsc, n, nil
}

// hostPorts returns the task's ports that name a host port.
func hostPorts(ports []drivers.Port) []drivers.Port {
	var out []drivers.Port
	for _, p := range ports {
		if p.Value > 0 {
			out = append(out, p)
		}
	}
	return out
}

// sleep is the guest's nanosleep: it returns early when the guest is stopped.
func sleep(ns int64, stopped <-chan struct{}) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-stopped:
	}
}
