package wasm

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// startAndWait runs one guest to its exit.
func startAndWait(b *testing.B, d *Driver, cfg *drivers.TaskConfig) {
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if res := <-h.Wait(); !res.Successful() {
		b.Fatalf("result %+v", res)
	}
}

// benchStart measures Start-to-exit of a guest that exits at once. cache:
// "none" (a fresh cache dir every time: full compile), "disk" (a new Driver
// on a warm cache dir: an agent restart), "memory" (the same Driver: a
// second task with the same module).
func benchStart(b *testing.B, name, cache string, args ...string) {
	mod := guest(b, name)
	dir := filepath.Join(b.TempDir(), "cache")
	var d *Driver
	if cache != "none" {
		d = newDriver(b, Options{CacheDir: dir})
		startAndWait(b, d, newTask(b, mod, args...)) // fill the cache
	}
	cfgs := make([]*drivers.TaskConfig, b.N)
	for i := range cfgs {
		cfgs[i] = newTask(b, mod, args...)
		cfgs[i].MemoryMB = 256
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch cache {
		case "none":
			b.StopTimer()
			nd, err := New(Options{CacheDir: filepath.Join(b.TempDir(), "c"+strconv.Itoa(i))})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			startAndWait(b, nd, cfgs[i])
			nd.Close(context.Background())
		case "disk":
			nd, err := New(Options{CacheDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			startAndWait(b, nd, cfgs[i])
			nd.Close(context.Background())
		default:
			startAndWait(b, d, cfgs[i])
		}
	}
}

func BenchmarkStartSmallNoCache(b *testing.B)     { benchStart(b, "tool", "none", "exit", "0") }
func BenchmarkStartSmallDiskCache(b *testing.B)   { benchStart(b, "tool", "disk", "exit", "0") }
func BenchmarkStartSmallMemoryCache(b *testing.B) { benchStart(b, "tool", "memory", "exit", "0") }
func BenchmarkStartGoNoCache(b *testing.B)        { benchStart(b, "go", "none") }
func BenchmarkStartGoDiskCache(b *testing.B)      { benchStart(b, "go", "disk") }
func BenchmarkStartGoMemoryCache(b *testing.B)    { benchStart(b, "go", "memory") }

// vmRSS reads this process's resident set size in bytes.
func vmRSS(b *testing.B) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}

// benchRSS starts n long-running guests and reports the growth of the
// process's VmRSS per guest (MB/task) after a GC.
func benchRSS(b *testing.B, name string, n int, args ...string) {
	mod := guest(b, name)
	d := newDriver(b, Options{})
	startAndWait(b, d, newTask(b, guest(b, "tool"), "exit", "0")) // warm the runtime
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory()
		before := vmRSS(b)
		b.StartTimer()
		var hs []drivers.Handle
		for j := 0; j < n; j++ {
			cfg := newTask(b, mod, args...)
			cfg.MemoryMB = 256
			h, err := d.Start(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			hs = append(hs, h)
		}
		b.StopTimer()
		// Let the guests reach their sleep.
		time.Sleep(200 * time.Millisecond) // a benchmark settling time, not synchronisation
		runtime.GC()
		after := vmRSS(b)
		b.ReportMetric(float64(after-before)/float64(n)/(1<<20), "MB/task")
		b.ReportMetric(float64(before)/(1<<20), "MB-before")
		b.ReportMetric(float64(after)/(1<<20), "MB-after")
		for _, h := range hs {
			if err := h.Stop(5*time.Second, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

func BenchmarkRSS10SmallTasks(b *testing.B) { benchRSS(b, "tool", 10, "sleep") }
func BenchmarkRSS3GoTasks(b *testing.B)     { benchRSS(b, "go", 3, "-sleep", "1h") }
