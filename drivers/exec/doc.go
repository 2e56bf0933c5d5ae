// Package exec is the driver that runs a task as a plain process on the
// node: one session and process group per task, an optional user, output
// written straight to the task's log files, cgroup v2 limits where the host
// has a writable cgroup2 hierarchy, and re-attachment after an agent restart.
//
// The task process is a direct child of the agent; there is no helper
// process. What happens over a task's life:
//
//	Start:   decode config -> open stdout/stderr files (newest <task>.stdout.N)
//	         -> create cgroup -> fork+exec (Setsid, credentials, CLONE_INTO_CGROUP)
//	         -> goroutine: wait4 -> kill leftovers -> remove cgroup -> Wait() yields
//	         -> goroutine: logfile.Watch keeps the log files rotated until exit
//	Stop:    kill(-pgid, sig) ... timeout ... kill(-pgid, SIGKILL) + cgroup.kill
//	State:   {pid, start time, pgid, cgroup, logs} as JSON in HandleState.Data
//	Recover: /proc/<pid> start time matches? -> goroutine locked to its OS thread:
//	         PTRACE_SEIZE(PTRACE_O_TRACEEXIT), wait4(__WALL) loop re-injecting
//	         signals until the exit status is known -> Wait() yields;
//	         logfile.Watch again for the logs the state names
//
// A re-attached task is no longer our child, so the only way to learn its
// exit status without a helper process is to trace it. If ptrace is refused
// the driver still notices the exit (pidfd, else /proc polling) but reports
// ExitResult.Err = ErrExitUnknown.
//
// Config keys: command (required), args, work_dir. See docs/drivers-exec.md.
package exec
