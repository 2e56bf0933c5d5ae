package allocrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/wasm"
	"github.com/tether-edge/tether/protocol"
)

// loopGuest is drivers/wasm/testdata/guests/loop.wat assembled by hand, so
// this test needs no wasm toolchain: a module whose _start spins in a
// branch loop until the driver cancels it.
var loopGuest = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: func () -> ()
	0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, 1 page
	0x07, 0x13, 0x02, // export section: two exports
	0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, // "memory": memory 0
	0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // "_start": func 0
	0x0a, 0x09, 0x01, 0x07, 0x00, // code section: one body, no locals
	0x03, 0x40, 0x0c, 0x00, 0x0b, // loop (empty) br 0 end
	0x0b, // end
}

// docs/templates.md: with change_mode = "signal", "a driver that cannot
// signal restarts the task instead, and says so in the event". The wasm
// driver's handles have no Signal method (guests cannot receive signals):
// a service change that re-renders the template restarts the guest.
func TestTemplateSignalFallsBackToRestartOnWasm(t *testing.T) {
	drv, err := wasm.New(wasm.Options{Engine: wasm.EngineInterpreter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close(context.Background()) })
	module := filepath.Join(t.TempDir(), "loop.wasm")
	if err := os.WriteFile(module, loopGuest, 0o644); err != nil {
		t.Fatal(err)
	}
	// The premise: the driver really lacks the ability.
	h0, err := drv.Start(context.Background(), &drivers.TaskConfig{ID: "probe/t", AllocID: "probe", TaskName: "t", Config: map[string]any{"module": module}})
	if err != nil {
		t.Fatalf("starting the guest: %v", err)
	}
	_, canSignal := h0.(drivers.Signaler)
	if err := h0.Stop(5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if canSignal {
		t.Fatal("the wasm driver's handle implements drivers.Signaler: this test needs a driver that cannot signal")
	}

	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	alloc := templateAlloc(protocol.Template{Data: apiTmpl, Destination: "local/api.conf", ChangeMode: "signal", ChangeSignal: "SIGHUP"})
	alloc.Tasks[0].Driver = "wasm"
	alloc.Tasks[0].Config = map[string]any{"module": module}
	h := startRunnerOpts(t, alloc, drv, newMemStore(), nil, nil, func(c *Config) {
		c.Services = cache
		c.TemplateWait = 200 * time.Millisecond
	})
	h.waitStatus(protocol.AllocRunning)
	if got := h.file("local/api.conf"); got != "10.0.0.1:8080" {
		t.Fatalf("rendered %q", got)
	}
	if ts := h.last().TaskStates["t"]; ts.Restarts != 0 || countEvents(eventTypes(ts), protocol.EventStarted) != 1 {
		t.Fatalf("before the change: restarts %d, events %v", ts.Restarts, eventTypes(ts))
	}

	cache.Put(apiSet(true, "10.0.0.2"))
	h.waitFile("local/api.conf", "10.0.0.2:8080")
	eventually(t, 10*time.Second, func() error {
		ts := h.last().TaskStates["t"]
		if ts.State != protocol.TaskRunning || ts.Restarts != 1 || countEvents(eventTypes(ts), protocol.EventStarted) != 2 {
			return fmt.Errorf("task %s, restarts %d, events %v", ts.State, ts.Restarts, eventTypes(ts))
		}
		return nil
	})
	ts := h.last().TaskStates["t"]
	for _, want := range []string{eventSignaling, protocol.EventRestartSignal, protocol.EventRestarting} {
		if !slices.Contains(eventTypes(ts), want) {
			t.Fatalf("events %v lack %q", eventTypes(ts), want)
		}
	}
	for _, e := range ts.Events {
		if e.Type == eventSignaling && !strings.Contains(e.Message, "driver wasm cannot send SIGHUP: restarting the task instead") {
			t.Errorf("Signaling event %q does not say the driver cannot signal", e.Message)
		}
	}
	if u := h.last(); u.ClientStatus != protocol.AllocRunning {
		t.Fatalf("alloc %s after the template restart", u.ClientStatus)
	}
}
