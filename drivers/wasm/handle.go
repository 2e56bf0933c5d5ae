package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tether-edge/tether/drivers"
)

// Exit codes the driver reports for guests that did not exit by themselves.
const (
	exitKilled  = 128 + 9 // stopped by Stop (reported with Signal 9)
	exitTrapped = 128 + 6 // a trap, as wasmtime's CLI reports it
)

// handle is one running guest.
type handle struct {
	state   drivers.HandleState
	rt      wazero.Runtime
	mod     api.Module
	cancel  context.CancelFunc // cancels the guest's context
	stopped chan struct{}      // closed by Stop before cancel; read by run
	logs    []io.Closer        // stdout/stderr files, closed after exit
	stderr  io.Writer
	limit   uint32       // memory limit in pages
	mem     *memSize     // the guest's memory size, for Stats (memstat.go)
	ports   map[int]bool // host ports the guest listens on

	stopOnce sync.Once
	waitCh   chan drivers.ExitResult // buffered 1; run sends once then closes
	done     chan struct{}           // closed when run has finished, before Wait's result
}

var _ drivers.Handle = (*handle)(nil)

// run calls the guest's entrypoint and reports how it ended. It owns the
// runtime and closes it (and the log files) when the guest returns.
func (h *handle) run(ctx context.Context, fn api.Function) {
	_, err := fn.Call(ctx)
	res := h.result(err)
	if !h.isStopped() && res.ExitCode == exitTrapped && !res.OOMKilled {
		fmt.Fprintf(h.stderr, "\nwasm driver: the guest crashed: %v\n", err)
	}
	if res.OOMKilled {
		fmt.Fprintf(h.stderr, "\nwasm driver: the guest ran out of memory: it used %d of the %d MiB of its limit; raise the task's resources.memory\n",
			h.memPages()*pageSize>>20, uint64(h.limit)*pageSize>>20)
	}
	_ = h.rt.Close(context.Background())
	for _, c := range h.logs {
		_ = c.Close()
	}
	h.cancel()
	// done before the result: whoever saw Wait fire finds the task exited.
	close(h.done)
	h.waitCh <- res
	close(h.waitCh)
}

func (h *handle) isStopped() bool {
	select {
	case <-h.stopped:
		return true
	default:
		return false
	}
}

// memPages is the guest's memory size in pages (0 if it has no memory).
func (h *handle) memPages() uint32 {
	if m := h.mod.Memory(); m != nil {
		return m.Size() / pageSize
	}
	return 0
}

// nearLimit reports whether the guest's memory is so close to its limit that
// a failed grow is the likely cause of an abnormal exit: within 1/16 of the
// limit or 4 MiB (a Go guest's heap arena).
func (h *handle) nearLimit() bool {
	if h.limit >= maxPages {
		return false
	}
	slack := h.limit / 16
	if slack < 64 {
		slack = 64
	}
	return h.memPages()+slack >= h.limit
}

// result maps the entrypoint's return to an ExitResult.
func (h *handle) result(err error) drivers.ExitResult {
	if h.isStopped() {
		return drivers.ExitResult{ExitCode: exitKilled, Signal: 9}
	}
	var code int
	var ee *sys.ExitError
	switch {
	case err == nil:
		return drivers.ExitResult{}
	case errors.As(err, &ee):
		switch ee.ExitCode() {
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			return drivers.ExitResult{ExitCode: exitKilled, Signal: 9}
		}
		code = int(ee.ExitCode())
		if code == 0 {
			return drivers.ExitResult{}
		}
	default:
		code = exitTrapped
	}
	return drivers.ExitResult{ExitCode: code, OOMKilled: h.nearLimit()}
}

// Wait implements drivers.Handle.
func (h *handle) Wait() <-chan drivers.ExitResult { return h.waitCh }

// Stop implements drivers.Handle. Guests cannot receive signals, so signal
// is ignored: the guest's context is cancelled (running code stops at its
// next function call or loop), host sleeps end and the sockets of its ports
// are shut down (blocking accept and recv return). timeout bounds the wait
// for the guest to return.
func (h *handle) Stop(timeout time.Duration, _ string) error {
	h.stopOnce.Do(func() {
		close(h.stopped) // ends host sleeps
		h.cancel()       // running guest code exits at its next call or loop
		select {
		case <-h.done: // exited already: its ports may belong to another task now
		default:
			shutdownPortSockets(h.ports) // blocking accept and recv return
		}
	})
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	// A connection the guest accepts after the sweep above would keep it
	// blocked in recv: sweep again until it has exited. Its listener still
	// holds the ports meanwhile, so they cannot be another task's.
	sweep := time.NewTicker(stopSweep)
	defer sweep.Stop()
	for {
		select {
		case <-h.done:
			return nil
		case <-sweep.C:
			select {
			case <-h.done: // exited: the ports may be another task's now
				return nil
			default:
				shutdownPortSockets(h.ports)
			}
		case <-t.C:
			return fmt.Errorf("wasm driver: task %s: %w within %v of cancelling it (a host call may be blocked)", h.state.TaskID, ErrStopTimeout, timeout)
		}
	}
}

// stopSweep is how often Stop shuts down the sockets on a stopping guest's
// ports again.
const stopSweep = 100 * time.Millisecond

// State implements drivers.Handle.
func (h *handle) State() drivers.HandleState { return h.state }

var _ drivers.Statser = (*handle)(nil)

// Stats implements drivers.Statser with what wazero allows: the guest's
// linear memory (its pages × 64 KiB, which is what it holds of the
// agent's memory besides the compiled code), and no CPU time (a guest runs
// on the agent's own goroutines; wazero does not account its time).
func (h *handle) Stats() (drivers.Usage, error) {
	select {
	case <-h.done:
		return drivers.Usage{}, fmt.Errorf("wasm driver: task %q has exited", h.state.TaskID)
	default:
	}
	return drivers.Usage{RSSBytes: h.mem.bytes.Load(), NoCPU: true}, nil
}
