//go:build linux

package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/tether-edge/tether/drivers"
)

var _ drivers.Execer = (*handle)(nil)

// execWaitDelay bounds how long Exec waits for output after the command
// exited (a background child may hold its stdout open).
const execWaitDelay = 2 * time.Second

// taskContext is what a command run in a task shares with it, read from
// the task's process so that it holds for a re-attached task too.
type taskContext struct {
	env  []string
	dir  string
	cred *syscall.Credential // nil: the agent's own
}

// Exec implements drivers.Execer: the command runs as the task's user,
// with its environment and working directory, in its cgroup, in a new
// session of its own (on a pseudo-terminal with TTY).
func (h *handle) Exec(ctx context.Context, o drivers.ExecOptions) (int, error) {
	if h.isDone() {
		return -1, errors.New("exec: the task is not running")
	}
	tc, err := readTaskContext(h.sd.Pid, h.sd.StartTime)
	if err != nil {
		return -1, err
	}
	envPath := defaultPath
	for _, kv := range tc.env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			envPath = v
		}
	}
	path, err := lookPath(o.Command[0], envPath, tc.dir)
	if err != nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	var ptmx, tty *os.File
	if o.TTY {
		if ptmx, tty, err = pty.Open(); err != nil {
			return -1, fmt.Errorf("exec: open a pseudo-terminal: %w", err)
		}
		defer ptmx.Close()
		if o.Size.Width > 0 && o.Size.Height > 0 {
			_ = pty.Setsize(ptmx, &pty.Winsize{Cols: o.Size.Width, Rows: o.Size.Height})
		}
		if tc.cred != nil {
			_ = tty.Chown(int(tc.cred.Uid), -1) // the shell may then set its terminal's modes
		}
	}
	var stdin io.WriteCloser
	newCmd := func() *osexec.Cmd {
		cmd := &osexec.Cmd{
			Path: path, Args: o.Command, Env: tc.env, Dir: tc.dir, WaitDelay: execWaitDelay,
			SysProcAttr: &syscall.SysProcAttr{Setsid: true, Credential: tc.cred},
		}
		if o.TTY {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.SysProcAttr.Setctty = true // Ctty 0: the child's stdin
			return cmd
		}
		cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
		if o.Stdin != nil {
			stdin, _ = cmd.StdinPipe()
		}
		return cmd
	}
	cmd, err := h.d.startInCgroup(newCmd, h.sd.Cgroup)
	if tty != nil {
		tty.Close()
	}
	if err != nil {
		return -1, fmt.Errorf("exec: start %q in task %s: %w", o.Command[0], h.taskID, err)
	}
	pid := cmd.Process.Pid
	h.d.log.Info("command started in task", "task", h.taskID, "pid", pid, "tty", o.TTY)
	exited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		case <-exited:
		}
	}()
	var copied chan struct{}
	var resizing sync.WaitGroup // done before ptmx is closed
	defer resizing.Wait()
	switch {
	case o.TTY:
		copied = make(chan struct{})
		go func() {
			defer close(copied)
			_, _ = io.Copy(o.Stdout, ptmx) // ends with EIO once the terminal's last holder is gone
		}()
		if o.Stdin != nil {
			go func() { _, _ = io.Copy(ptmx, o.Stdin) }()
		}
		if o.Resize != nil {
			resizing.Add(1)
			go func() {
				defer resizing.Done()
				for {
					select {
					case sz := <-o.Resize:
						if sz.Width > 0 && sz.Height > 0 {
							_ = pty.Setsize(ptmx, &pty.Winsize{Cols: sz.Width, Rows: sz.Height})
						}
					case <-exited:
						return
					}
				}
			}()
		}
	case stdin != nil:
		go func() {
			_, _ = io.Copy(stdin, o.Stdin)
			stdin.Close()
		}()
	}
	werr := cmd.Wait()
	close(exited)
	if copied != nil {
		select { // the rest of the output, as a background child may hold the terminal
		case <-copied:
		case <-time.After(execWaitDelay):
		}
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return -1, werr
	case ws.Signaled():
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// readTaskContext reads the task's environment, working directory and
// user from its process, checking it is still the one started (pid and
// start time).
func readTaskContext(pid int, start uint64) (taskContext, error) {
	var tc taskContext
	st, err := readProcStat(pid)
	if err != nil || st.StartTime != start || st.dead() {
		return tc, errors.New("exec: the task's process is gone")
	}
	p := "/proc/" + strconv.Itoa(pid)
	env, err := os.ReadFile(p + "/environ")
	if err != nil {
		return tc, fmt.Errorf("exec: read the task's environment: %w", err)
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if len(kv) > 0 {
			tc.env = append(tc.env, string(kv))
		}
	}
	if tc.dir, err = os.Readlink(p + "/cwd"); err != nil {
		return tc, fmt.Errorf("exec: read the task's working directory: %w", err)
	}
	status, err := os.ReadFile(p + "/status")
	if err != nil {
		return tc, fmt.Errorf("exec: read the task's user: %w", err)
	}
	tc.cred, err = parseStatusCred(string(status))
	return tc, err
}

// parseStatusCred reads the effective uid, gid and groups of a
// /proc/<pid>/status; nil when they are the agent's own.
func parseStatusCred(status string) (*syscall.Credential, error) {
	field := func(name string) []string {
		for line := range strings.Lines(status) {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				return strings.Fields(rest)
			}
		}
		return nil
	}
	uids, gids := field("Uid"), field("Gid")
	if len(uids) < 2 || len(gids) < 2 {
		return nil, errors.New("exec: the task's /proc status has no Uid or Gid")
	}
	uid, err1 := strconv.ParseUint(uids[1], 10, 32)
	gid, err2 := strconv.ParseUint(gids[1], 10, 32)
	if err1 != nil || err2 != nil {
		return nil, errors.New("exec: the task's /proc status has a malformed Uid or Gid")
	}
	if int(uid) == os.Geteuid() && int(gid) == os.Getegid() {
		return nil, nil
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	for _, g := range field("Groups") {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, nil
}
