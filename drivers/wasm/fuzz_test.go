package wasm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzStart: whatever the module file holds, Start returns an error or a
// guest that can be stopped; it never panics.
func FuzzStart(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01"))
	f.Add([]byte("(module)"))
	f.Add([]byte{})
	d := newDriver(f, Options{Engine: EngineInterpreter})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, bin []byte) {
		p := filepath.Join(dir, "m.wasm")
		if err := os.WriteFile(p, bin, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := newTask(t, p)
		cfg.MemoryMB = 16
		h, err := d.Start(context.Background(), cfg)
		if err != nil {
			return
		}
		if err := h.Stop(5*time.Second, ""); err != nil {
			t.Fatal(err)
		}
	})
}
