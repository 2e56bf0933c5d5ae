package agent

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tether-edge/tether/protocol"
)

// hostMetrics is what the agent keeps to measure its device for
// heartbeats: CPU from /proc/stat (busy since the previous heartbeat),
// memory from /proc/meminfo, load from /proc/loadavg. It reads the files
// directly (docs/RATIONALE.md: why not gopsutil).
type hostMetrics struct {
	// central: the latest desired state carried Metrics, so central takes
	// the heartbeat's metric keys and the hello's Reserved (an older
	// central refuses both).
	central atomic.Bool
	// busy and total are /proc/stat's jiffies at the previous heartbeat
	// (owned by the Run goroutine).
	busy, total uint64
}

// noteMetrics takes from a desired state whether central takes device
// metrics. When it learns so and the node reserves something, it says
// hello again: its first hello could not carry Reserved.
func (a *Agent) noteMetrics(d *protocol.Desired) {
	was := a.metrics.central.Swap(d.Metrics)
	if d.Metrics && !was && a.connected && a.helloReserved() != nil {
		a.hello()
	}
}

// helloReserved is the config's reserved block for a hello, nil when
// nothing is reserved or central has not shown it takes the field.
func (a *Agent) helloReserved() *protocol.Reserved {
	r := a.cfg.Reserved
	if !a.metrics.central.Load() || r.CPU == 0 && r.MemoryMB == 0 {
		return nil
	}
	return &protocol.Reserved{CPU: r.CPU, MemoryMB: r.MemoryMB}
}

// addMetrics fills a heartbeat's device metrics, for a central that takes
// them; to that central Boot is left out (every hello carries it), which
// pays for most of their bytes.
func (a *Agent) addMetrics(hb *protocol.Heartbeat) {
	if !a.metrics.central.Load() {
		return
	}
	hb.Boot = 0
	// The disk in MiB (keys 16-17) rather than bytes (10-11): on any disk
	// over 4 GiB that is 12 bytes less per heartbeat.
	if hb.DiskUsed > 0 || hb.DiskAvail > 0 {
		hb.DiskUsedMiB, hb.DiskAvailMiB = hb.DiskUsed>>20, hb.DiskAvail>>20
		hb.DiskUsed, hb.DiskAvail = 0, 0
	}
	root := a.opts.FingerprintRoot
	if busy, total, ok := parseProcStat(readHead(filepath.Join(root, "/proc/stat"), 1024)); ok {
		hb.CPU = cpuPermille(a.metrics.busy, a.metrics.total, busy, total)
		a.metrics.busy, a.metrics.total = busy, total
	}
	if used, ok := parseMemInfo(readHead(filepath.Join(root, "/proc/meminfo"), 4096)); ok {
		hb.MemUsedMiB = used >> 10
	}
	if l, ok := parseLoadAvg(readHead(filepath.Join(root, "/proc/loadavg"), 256)); ok {
		hb.Load1 = l
	}
}

// readHead reads at most n bytes of a file (nil on error): the lines the
// parsers want come first.
func readHead(path string, n int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return b
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: jiffies
// busy (everything but idle and iowait) and in total (user to steal;
// guest time is already counted in user).
func parseProcStat(b []byte) (busy, total uint64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	var idle uint64
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return total - idle, total, true
}

// cpuPermille is the busy share between two /proc/stat readings, 0 for
// the first one (no previous) or a counter that went back.
func cpuPermille(busy0, total0, busy1, total1 uint64) int {
	if total0 == 0 || total1 <= total0 || busy1 < busy0 {
		return 0
	}
	return int(min((busy1-busy0)*1000/(total1-total0), 1000))
}

// parseMemInfo returns the memory in use in KiB: MemTotal - MemAvailable
// (the kernel's estimate of what can be had without swapping), or, on a
// kernel older than 3.14 without MemAvailable, MemTotal - (MemFree +
// Buffers + Cached).
func parseMemInfo(b []byte) (usedKiB uint64, ok bool) {
	v := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch k := strings.TrimSuffix(f[0], ":"); k {
		case "MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached":
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				v[k] = n
			}
		}
	}
	total, ok := v["MemTotal"]
	if !ok {
		return 0, false
	}
	avail, ok := v["MemAvailable"]
	if !ok {
		avail = v["MemFree"] + v["Buffers"] + v["Cached"]
	}
	return total - min(avail, total), true
}

// parseLoadAvg returns /proc/loadavg's 1-minute load ×100.
func parseLoadAvg(b []byte) (int, bool) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	x, err := strconv.ParseFloat(f[0], 64)
	if err != nil || x < 0 || x > 1e6 {
		return 0, false
	}
	return int(x*100 + 0.5), true
}
