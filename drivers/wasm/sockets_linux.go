//go:build linux

package wasm

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// shutdownPortSockets shuts down (without closing) every socket of this
// process whose local port is one of ports: a task's pre-opened listeners
// and the connections accepted on them. A guest blocked in accept or recv
// then gets an error and, its context being cancelled, exits at its next
// call.
//
// wazero's descriptor table is not safe to touch while the guest runs, and
// closing the module from another goroutine races with the guest's own
// fd_close; shutdown(2) works on the kernel socket and leaves the table and
// the descriptor numbers alone.
func shutdownPortSockets(ports map[int]bool) int {
	if len(ports) == 0 {
		return 0
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		var port int
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			port = a.Port
		case *unix.SockaddrInet6:
			port = a.Port
		default:
			continue
		}
		if ports[port] && unix.Shutdown(fd, unix.SHUT_RDWR) == nil {
			n++
		}
	}
	return n
}
