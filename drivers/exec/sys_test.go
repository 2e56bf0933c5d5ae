//go:build linux

package exec

import "syscall"

func syscallKill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
