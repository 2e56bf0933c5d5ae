package wasm

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/tetratelabs/wazero"
)

// compileLocks serialises the compilation of one module (by content) across
// the driver's runtimes. wazero 1.12 with a compilation cache is not safe
// to compile the same module concurrently: a compile that loads it from the
// file cache publishes it to the shared in-memory cache before compiling its
// entry preambles, so a second compile finds it there, instantiates it, and
// panics in moduleEngine.NewFunction (index out of range on
// entryPreamblesPtrs) — taking the whole agent down when two allocations of
// one wasm task start at once. Different modules still compile in
// parallel. The zero value is ready to use.
type compileLocks struct {
	mu    sync.Mutex               // guards locks
	locks map[[32]byte]*sync.Mutex // one per module content; never removed (one per distinct module)
}

// compile compiles bin in rt, holding the module's lock.
func (c *compileLocks) compile(ctx context.Context, rt wazero.Runtime, bin []byte) (wazero.CompiledModule, error) {
	key := sha256.Sum256(bin)
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[[32]byte]*sync.Mutex{}
	}
	l, ok := c.locks[key]
	if !ok {
		l = &sync.Mutex{}
		c.locks[key] = l
	}
	c.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	return rt.CompileModule(ctx, bin)
}
