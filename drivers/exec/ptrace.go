//go:build linux

package exec

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tether-edge/tether/drivers"
)

// ptrace requests and options, spelled out for clarity (x/sys/unix has no
// PTRACE_SEIZE wrapper that takes options).
const (
	ptraceSeize      = unix.PTRACE_SEIZE       // 0x4206
	ptraceListen     = unix.PTRACE_LISTEN      // 0x4208
	ptraceOTraceExit = unix.PTRACE_O_TRACEEXIT // 0x40
	ptraceEventExit  = unix.PTRACE_EVENT_EXIT  // 6
	ptraceEventStop  = unix.PTRACE_EVENT_STOP  // 128
)

// procPoll is how often the last-resort watcher looks at /proc.
const procPoll = time.Second

// attach starts watching a re-attached task. The task is not our child, so
// wait4 on it only works for its tracer: a goroutine locked to one OS thread
// seizes it with PTRACE_O_TRACEEXIT and waits for its exit status, passing
// every signal through. If ptrace is refused the exit is still noticed (a
// pidfd, else /proc polling) but reported with ErrExitUnknown.
func (d *Driver) attach(h *handle) error {
	seized := make(chan error, 1)
	go func() {
		// Every ptrace request for a tracee must come from the thread that
		// seized it. The thread is never unlocked: when this goroutine
		// returns the runtime retires it, which also drops any ptrace link.
		runtime.LockOSThread()
		err := seize(h.sd.Pid)
		if err == nil {
			// Close the race with pid reuse between checkAlive and the seize.
			if err = checkAlive(h.sd); err != nil {
				seized <- err
				return // the thread exits and detaches
			}
		}
		seized <- err
		if err != nil {
			return
		}
		h.exited(traceUntilExit(h.sd.Pid))
	}()
	err := <-seized
	switch {
	case err == nil:
		h.traced = true
		return nil
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d exited during re-attach: %w", h.sd.Pid, drivers.ErrTaskGone)
	case errors.Is(err, drivers.ErrTaskGone):
		return err
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOSYS):
		d.log.Warn("exec driver: ptrace refused; the task's exit will be noticed but its exit code will be unknown", "task", h.taskID, "pid", h.sd.Pid, "err", err)
		go func() { h.exited(watchUntilGone(h.sd)) }()
		return nil
	default:
		return fmt.Errorf("ptrace seize pid %d: %w", h.sd.Pid, err)
	}
}

func seize(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceSeize, uintptr(pid), 0, ptraceOTraceExit, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func ptraceListenReq(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceListen, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// traceUntilExit runs the wait loop for a seized tracee until it is gone.
// It must run on the thread that seized pid.
func traceUntilExit(pid int) drivers.ExitResult {
	var atExit *unix.WaitStatus // from PTRACE_EVENT_EXIT, in case the final report is lost
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if atExit != nil {
				return resultFromStatus(*atExit)
			}
			return drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("exec: lost the re-attached task (wait4: %v): %w", err, ErrExitUnknown)}
		}
		switch {
		case ws.Exited(), ws.Signaled():
			return resultFromStatus(ws)
		case !ws.Stopped():
			continue
		}
		sig := ws.StopSignal()
		switch event := int(ws) >> 16; event {
		case 0:
			// Signal-delivery-stop: deliver the signal as if we were not there.
			err = unix.PtraceCont(pid, int(sig))
		case ptraceEventExit:
			if msg, gerr := unix.PtraceGetEventMsg(pid); gerr == nil {
				st := unix.WaitStatus(msg)
				atExit = &st
			}
			err = unix.PtraceCont(pid, 0)
		case ptraceEventStop:
			if sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU {
				// Group-stop: stay stopped, but keep reporting (SIGCONT, SIGKILL).
				err = ptraceListenReq(pid)
			} else {
				err = unix.PtraceCont(pid, 0)
			}
		default:
			err = unix.PtraceCont(pid, 0)
		}
		// ESRCH: killed while stopped; the next wait4 reports the death.
		_ = err
	}
}

// watchUntilGone waits, without ptrace, for the process of sd to exit: with
// a pidfd where the kernel has them, else by polling /proc.
func watchUntilGone(sd stateData) drivers.ExitResult {
	gone := drivers.ExitResult{ExitCode: -1, Err: ErrExitUnknown}
	if fd, err := unix.PidfdOpen(sd.Pid, 0); err == nil {
		defer unix.Close(fd)
		if checkAlive(sd) != nil { // the pid was reused before we opened it
			return gone
		}
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
				return gone
			}
		}
	}
	t := time.NewTicker(procPoll)
	defer t.Stop()
	for {
		<-t.C
		if checkAlive(sd) != nil {
			return gone
		}
	}
}
