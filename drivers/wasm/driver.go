package wasm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/tetratelabs/wazero"

	"github.com/tether-edge/tether/drivers"
)

// Engine names reported in the node attribute driver.wasm.engine.
const (
	EngineCompiler    = "compiler"
	EngineInterpreter = "interpreter"
)

// Options configure the driver. The zero value works: in-memory cache only,
// the engine chosen for this CPU, listeners on all interfaces.
type Options struct {
	Logger *slog.Logger
	// CacheDir holds compiled modules across agent restarts (usually
	// <data_dir>/wasm-cache). Empty: compiled code is cached in memory only.
	CacheDir string
	// Engine forces EngineCompiler or EngineInterpreter; empty picks the
	// compiler on amd64 and arm64 and the interpreter elsewhere.
	Engine string
	// ListenAddress is the host address task ports are opened on
	// (default "0.0.0.0": every interface).
	ListenAddress string
}

// Driver runs wasm guests. Its methods are safe for concurrent use; its
// fields are immutable after New.
type Driver struct {
	log        *slog.Logger
	engine     string
	listenAddr string
	cache      wazero.CompilationCache
	base       wazero.RuntimeConfig // engine + cache + close on context done
	compiles   compileLocks         // compile.go
}

var _ drivers.Driver = (*Driver)(nil)

// New returns a wasm driver. It fails only if the cache dir cannot be
// created or Engine names an engine this CPU does not have.
func New(o Options) (*Driver, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ListenAddress == "" {
		o.ListenAddress = "0.0.0.0"
	}
	engine, err := pickEngine(o.Engine, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	var cache wazero.CompilationCache
	if o.CacheDir != "" {
		cache, err = wazero.NewCompilationCacheWithDir(o.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm driver: compilation cache %s: %v (check that the agent's data_dir is writable)", o.CacheDir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	var base wazero.RuntimeConfig
	if engine == EngineCompiler {
		base = wazero.NewRuntimeConfig() // the compiler, or the interpreter if this CPU lacks what it needs
	} else {
		base = wazero.NewRuntimeConfigInterpreter()
	}
	base = base.WithCompilationCache(cache).WithCloseOnContextDone(true)
	return &Driver{
		log:        o.Logger.With("driver", "wasm"),
		engine:     engine,
		listenAddr: o.ListenAddress,
		cache:      cache,
		base:       base,
	}, nil
}

// pickEngine returns the engine to use on arch. wazero's compiler exists for
// amd64 and arm64 only; on 32-bit ARM NewRuntimeConfigCompiler panics.
func pickEngine(want, arch string) (string, error) {
	compiler := arch == "amd64" || arch == "arm64"
	switch want {
	case "":
		if compiler {
			return EngineCompiler, nil
		}
		return EngineInterpreter, nil
	case EngineInterpreter:
		return EngineInterpreter, nil
	case EngineCompiler:
		if !compiler {
			return "", fmt.Errorf("wasm driver: engine %q is not available on %s (only amd64 and arm64); use %q or leave it empty", want, arch, EngineInterpreter)
		}
		return EngineCompiler, nil
	}
	return "", fmt.Errorf("wasm driver: unknown engine %q (known: %s, %s)", want, EngineCompiler, EngineInterpreter)
}

// Close releases the compilation cache. Call it after every task has exited.
func (d *Driver) Close(ctx context.Context) error { return d.cache.Close(ctx) }

// Name implements drivers.Driver.
func (d *Driver) Name() string { return "wasm" }

// Detect implements drivers.Driver. The driver needs nothing from the host,
// so it is always available.
func (d *Driver) Detect(context.Context) (map[string]string, error) {
	return map[string]string{
		"driver.wasm":         "1",
		"driver.wasm.engine":  d.engine,
		"driver.wasm.version": wazeroVersion(),
	}, nil
}

// Engine reports the engine in use: EngineCompiler or EngineInterpreter.
func (d *Driver) Engine() string { return d.engine }

// wazeroModuleVersion is the wazero version in go.mod, reported when the
// binary carries no build info (test binaries); a test keeps it in step.
const wazeroModuleVersion = "v1.12.0"

// wazeroVersion is the wazero module version linked into this binary.
func wazeroVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/tetratelabs/wazero" {
				if m.Replace != nil && m.Replace.Version != "" {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return wazeroModuleVersion
}

// Recover implements drivers.Driver. A guest runs inside the agent process,
// so it died with the agent that started it: the task runner must start it
// again.
func (d *Driver) Recover(_ context.Context, st drivers.HandleState) (drivers.Handle, error) {
	return nil, fmt.Errorf("wasm driver: task %s: %s: %w", st.TaskID, goneReason, drivers.ErrTaskGone)
}
