package podman

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// logDrainTimeout bounds how long a handle waits, after the container
// exited, for the rest of its output to reach the log files.
const logDrainTimeout = 5 * time.Second

// handle is one container. Its goroutine (monitor) owns the log copier and
// is the only writer of result; result is read only after done is closed.
type handle struct {
	d      *Driver
	id     string
	name   string
	state  drivers.HandleState
	log    *slog.Logger
	cancel context.CancelFunc // stops the goroutines without a result (detach)

	waitCh chan drivers.ExitResult // buffered 1: the result, then closed
	exited chan struct{}           // closed when the exit is known, before logs are drained
	done   chan struct{}           // closed after the result is in waitCh
	result drivers.ExitResult      // written by monitor before done is closed
}

var (
	_ drivers.Handle   = (*handle)(nil)
	_ drivers.Signaler = (*handle)(nil)
	_ drivers.Statser  = (*handle)(nil)
)

func newHandle(d *Driver, id, name string, st drivers.HandleState, lc *logCopier) *handle {
	ctx, cancel := context.WithCancel(context.Background())
	h := &handle{
		d: d, id: id, name: name, state: st, cancel: cancel,
		log:    d.log.With("container", name, "task", st.TaskID),
		waitCh: make(chan drivers.ExitResult, 1),
		exited: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go h.monitor(ctx, lc)
	return h
}

func (h *handle) Wait() <-chan drivers.ExitResult { return h.waitCh }

func (h *handle) State() drivers.HandleState { return h.state }

// monitor waits for the container to exit, lets the log copier finish, and
// delivers the result.
func (h *handle) monitor(ctx context.Context, lc *logCopier) {
	defer close(h.done)
	defer close(h.waitCh)
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		lc.run(logCtx, h.exited)
	}()

	res, ok := h.waitExit(ctx)
	close(h.exited)
	if !ok {
		return // detached: no result
	}
	if res.Err != nil {
		stopLogs() // Podman is unreachable or the container is gone: nothing more to read
	}
	t := time.NewTimer(logDrainTimeout)
	select {
	case <-logsDone:
		t.Stop()
	case <-t.C:
		h.log.Warn("podman driver: log copy did not finish after the container exited; the tail of its output may be missing")
		stopLogs()
		<-logsDone
	}
	h.result = res
	h.waitCh <- res
}

// waitExit long-polls Podman's wait endpoint until the container stops. If
// Podman stops answering it retries; after LostContactTimeout without an
// answer it gives up with ErrLostContact. ok is false if ctx was cancelled.
func (h *handle) waitExit(ctx context.Context) (res drivers.ExitResult, ok bool) {
	var lostSince time.Time
	backoff := 100 * time.Millisecond
	for {
		code, err := h.d.client.wait(ctx, h.id)
		if ctx.Err() != nil {
			return res, false
		}
		if err == nil {
			return h.exitResult(ctx, code), true
		}
		if isNotFound(err) {
			return drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("podman driver: container %s was removed while the task ran: %w", h.name, drivers.ErrTaskGone)}, true
		}
		now := time.Now()
		if lostSince.IsZero() {
			lostSince = now
			h.log.Warn("podman driver: cannot wait for the container, retrying", "error", err)
		}
		if now.Sub(lostSince) >= h.d.opts.LostContactTimeout {
			return drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("%w: %v; is the Podman API service running?", ErrLostContact, err)}, true
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, false
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
		if h.d.client.ping(ctx) == nil {
			lostSince = time.Time{} // Podman answers again: a fresh deadline for the next failure
			backoff = 100 * time.Millisecond
		}
	}
}

// exitResult completes the exit code of the wait endpoint with what inspect
// knows (OOM kill).
func (h *handle) exitResult(ctx context.Context, code int) drivers.ExitResult {
	res := drivers.ExitResult{ExitCode: code}
	if r, err := h.d.client.inspect(ctx, h.id); err == nil {
		res.ExitCode = r.State.ExitCode
		res.OOMKilled = r.State.OOMKilled
		if r.State.Error != "" && res.ExitCode != 0 {
			res.Err = fmt.Errorf("podman driver: container %s: %s", h.name, r.State.Error)
		}
	} else {
		h.log.Warn("podman driver: inspect after exit failed; OOM kill unknown", "error", err)
	}
	// Container runtimes report death by signal N as exit code 128+N.
	if res.ExitCode > 128 && res.ExitCode <= 128+64 {
		res.Signal = res.ExitCode - 128
	}
	return res
}

// Stop sends signal (default SIGTERM), waits up to timeout, then kills the
// container, waits for its exit and removes it.
func (h *handle) Stop(timeout time.Duration, signal string) error {
	if signal == "" {
		signal = "SIGTERM"
	}
	select {
	case <-h.done:
		return h.remove()
	default:
	}
	ctx := context.Background()
	if err := h.d.client.kill(ctx, h.id, signal); err != nil && !isNotRunning(err) && !isNotFound(err) {
		// A bad signal name or a Podman hiccup must not keep the task
		// running: go on to SIGKILL after the timeout.
		h.log.Warn("podman driver: stop signal not delivered; killing after the timeout", "signal", signal, "error", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-h.done:
	case <-t.C:
		if err := h.d.client.kill(ctx, h.id, "SIGKILL"); err != nil && !isNotRunning(err) && !isNotFound(err) {
			h.log.Warn("podman driver: SIGKILL not delivered", "error", err)
		}
		<-h.done // bounded: the container exits or LostContactTimeout passes
	}
	return h.remove()
}

// remove deletes the stopped container; its output is in the log files.
func (h *handle) remove() error {
	if h.result.Err != nil && errors.Is(h.result.Err, ErrLostContact) {
		return nil // nothing to talk to; Cleanup removes it on the next agent start
	}
	if err := h.d.client.remove(context.Background(), h.id); err != nil {
		return fmt.Errorf("podman driver: remove container %s: %w", h.name, err)
	}
	return nil
}

// Signal implements drivers.Signaler.
func (h *handle) Signal(signal string) error {
	if err := h.d.client.kill(context.Background(), h.id, signal); err != nil {
		return fmt.Errorf("podman driver: signal %s to %s: %w", signal, h.name, err)
	}
	return nil
}

// Stats implements drivers.Statser.
func (h *handle) Stats() (drivers.Usage, error) {
	r, err := h.d.client.stats(context.Background(), h.id)
	if err != nil {
		return drivers.Usage{}, fmt.Errorf("podman driver: stats of %s: %w", h.name, err)
	}
	if len(r.Stats) == 0 {
		return drivers.Usage{}, fmt.Errorf("podman driver: stats of %s: Podman returned none (is it running?)", h.name)
	}
	s := r.Stats[0]
	return drivers.Usage{RSSBytes: s.MemUsage, CPUSeconds: float64(s.CPUNano) / 1e9}, nil
}

// detach stops the handle's goroutines without a result, as if the agent
// process had died. Tests use it to simulate an agent restart.
func (h *handle) detach() {
	h.cancel()
	<-h.done
}
