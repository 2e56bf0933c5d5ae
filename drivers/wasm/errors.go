package wasm

import "errors"

// Sentinel errors of the wasm driver. Start wraps them with the task's
// details, so callers can test with errors.Is.
var (
	// ErrModuleNotFound: the configured module file does not exist.
	ErrModuleNotFound = errors.New("wasm: module not found")
	// ErrNotWasm: the module file is not a WebAssembly binary.
	ErrNotWasm = errors.New("wasm: not a WebAssembly binary")
	// ErrBadModule: wazero could not compile or instantiate the module.
	ErrBadModule = errors.New("wasm: module cannot run")
	// ErrMemoryLimit: the module asks for more initial memory than
	// resources.memory allows.
	ErrMemoryLimit = errors.New("wasm: module needs more memory than the task's limit")
	// ErrPortInUse: a task port could not be opened on the host.
	ErrPortInUse = errors.New("wasm: cannot listen on task port")
	// ErrStopTimeout: Stop cancelled the guest but it did not return in time.
	ErrStopTimeout = errors.New("wasm: guest did not stop in time")
)

// goneReason is what Recover wraps drivers.ErrTaskGone with.
const goneReason = "wasm guests run inside the agent and restart with it"
