package wasm

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memSize backs a guest's linear memory and records its size, so Stats can
// read it from another goroutine while the guest grows it (reading
// wazero's memory length there would race with memory.grow).
type memSize struct {
	bytes atomic.Uint64
}

// allocator returns the wazero allocator whose memories report to m.
func (m *memSize) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		return &trackedMemory{buf: make([]byte, 0, capacity), max: max, size: m}
	})
}

// trackedMemory is a linear memory that grows as wazero's default one
// does (a new, larger backing array when the capacity is short) and
// records its length.
type trackedMemory struct {
	buf  []byte
	max  uint64
	size *memSize
}

func (t *trackedMemory) Reallocate(size uint64) []byte {
	if size > t.max {
		return nil
	}
	if size > uint64(cap(t.buf)) {
		// Double the capacity (up to max) so that a guest growing a page
		// at a time does not copy its memory on every grow.
		c := min(max(size, 2*uint64(cap(t.buf))), t.max)
		nb := make([]byte, size, c)
		copy(nb, t.buf)
		t.buf = nb
	} else {
		t.buf = t.buf[:size]
	}
	t.size.bytes.Store(size)
	return t.buf
}

func (t *trackedMemory) Free() {
	t.buf = nil
	t.size.bytes.Store(0)
}
