//go:build linux

package exec

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	State     byte   // field 3: R, S, D, Z, X, T, ...
	Ppid      int    // field 4
	Pgid      int    // field 5
	Utime     uint64 // field 14, clock ticks
	Stime     uint64 // field 15, clock ticks
	StartTime uint64 // field 22, clock ticks since boot: (pid, start time) names one process
	RSSPages  int64  // field 24
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the contents of /proc/<pid>/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("exec: malformed /proc stat: no ')'")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3; field n is f[n-3].
	if len(f) < 22 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("exec: malformed /proc stat: %d fields", len(f)+2)
	}
	var st procStat
	st.State = f[0][0]
	var err error
	num := func(n int) uint64 {
		v, e := strconv.ParseUint(string(f[n-3]), 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("exec: malformed /proc stat field %d: %q", n, f[n-3])
		}
		return v
	}
	st.Ppid = int(num(4))
	st.Pgid = int(num(5))
	st.Utime = num(14)
	st.Stime = num(15)
	st.StartTime = num(22)
	rss, e := strconv.ParseInt(string(f[24-3]), 10, 64)
	if e != nil && err == nil {
		err = fmt.Errorf("exec: malformed /proc stat field 24: %q", f[24-3])
	}
	st.RSSPages = rss
	return st, err
}

// dead reports whether a stat state means the process has exited.
func (s procStat) dead() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }
