// Package wasm is the driver that runs WebAssembly (WASI preview 1) guests
// inside the agent process with wazero. It owns one wazero compilation cache
// (on disk under the agent's data dir when Options.CacheDir is set) and one
// base runtime config shared by every task; each task gets its own runtime so
// that its memory limit (resources.memory) applies to it alone.
//
// What happens over a task's life:
//
//	Start:  read config -> read module (relative: task dir) -> check "\0asm"
//	        -> runtime(base config + memory limit pages) -> WASI -> compile (cache hit: no codegen)
//	        -> instantiate with args, env, /alloc /local /secrets, log files, listeners
//	        -> goroutine: call entrypoint (default _start) -> Wait() yields
//	Stop:   end host sleeps, cancel the guest's context (WithCloseOnContextDone:
//	        guest code exits at its next call or loop), shutdown(2) the sockets of
//	        the task's ports (a blocked accept or recv returns) -> Wait() yields 137
//	Recover: always ErrTaskGone: guests live in the agent and restart with it
//
// Guests cannot receive signals: Stop's signal is ignored. A task's ports are
// opened by the driver and handed to the guest as pre-opened TCP listeners;
// TETHER_LISTEN_FD_<LABEL> tells the guest which descriptor to accept on.
//
// Config keys: module (required), args, entrypoint. See docs/drivers-wasm.md.
package wasm
