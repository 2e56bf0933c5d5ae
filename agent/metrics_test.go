package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func TestParseProcFiles(t *testing.T) {
	busy, total, ok := parseProcStat([]byte("cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 1 2 3 4\n"))
	if !ok || busy != 161 || total != 981 {
		t.Fatalf("/proc/stat: busy %d total %d ok %v, want 161 of 981", busy, total, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5", "cpu 1 2 x 4 5", "cpu 1 2"} {
		if _, _, ok := parseProcStat([]byte(bad)); ok {
			t.Errorf("/proc/stat %q parsed", bad)
		}
	}
	for _, tt := range []struct {
		b0, t0, b1, t1 uint64
		want           int
	}{{0, 0, 10, 100, 0}, {100, 1000, 200, 1400, 250}, {100, 1000, 100, 1000, 0}, {200, 1000, 100, 1400, 0}, {0, 1, 50, 51, 1000}} {
		if got := cpuPermille(tt.b0, tt.t0, tt.b1, tt.t1); got != tt.want {
			t.Errorf("cpuPermille(%d, %d, %d, %d) = %d, want %d", tt.b0, tt.t0, tt.b1, tt.t1, got, tt.want)
		}
	}
	used, ok := parseMemInfo([]byte("MemTotal:        1000000 kB\nMemFree:          100000 kB\nMemAvailable:     400000 kB\nBuffers: 1 kB\n"))
	if !ok || used != 600000 {
		t.Fatalf("/proc/meminfo: %d %v, want 600000 KiB", used, ok)
	}
	// A kernel before 3.14: no MemAvailable.
	if used, ok := parseMemInfo([]byte("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")); !ok || used != 600 {
		t.Fatalf("/proc/meminfo without MemAvailable: %d %v, want 600", used, ok)
	}
	if _, ok := parseMemInfo([]byte("garbage")); ok {
		t.Fatal("/proc/meminfo without MemTotal parsed")
	}
	if l, ok := parseLoadAvg([]byte("0.42 0.30 0.20 1/100 1234\n")); !ok || l != 42 {
		t.Fatalf("/proc/loadavg: %d %v", l, ok)
	}
	if _, ok := parseLoadAvg([]byte("-1 0 0")); ok {
		t.Fatal("negative load parsed")
	}
}

// writeProc writes the /proc files the agent measures under root.
func writeProc(t *testing.T, root, stat string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"stat":    stat,
		"meminfo": "MemTotal:        1000000 kB\nMemFree:          100000 kB\nMemAvailable:     400000 kB\n",
		"loadavg": "0.42 0.30 0.20 1/100 1234\n",
	} {
		if err := os.WriteFile(filepath.Join(root, "proc", name+".tmp"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, "proc", name+".tmp"), filepath.Join(root, "proc", name)); err != nil {
			t.Fatal(err)
		}
	}
}

// Device metrics and Reserved go only to a central whose desired state
// says it takes them (an older one refuses the keys): before, heartbeats
// are as they were (Boot included) and the hello has no Reserved; after,
// heartbeats carry CPU, memory and load without Boot, and the agent says
// hello again with its reserved block.
func TestMetricsOnlyForACentralThatTakesThem(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	root := t.TempDir()
	writeProc(t, root, "cpu  100 0 100 800 0 0 0 0 0 0\n")
	cfg := testConfig(t.TempDir(), b.url())
	cfg.Reserved.MemoryMB = 256
	a, err := New(Options{
		Config: cfg, Drivers: []drivers.Driver{fake.New()}, Logger: quietLogger(), Version: "test",
		FingerprintRoot: root, RetryInterval: 50 * time.Millisecond,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	id := a.NodeID()
	hellos := func() []protocol.Hello { return receivedAs[protocol.Hello](t, b, topics.Hello(id)) }
	heartbeats := func() []protocol.Heartbeat { return receivedAs[protocol.Heartbeat](t, b, topics.Heartbeat(id)) }
	eventually(t, 10*time.Second, func() error {
		if len(heartbeats()) < 3 || len(hellos()) == 0 {
			return fmt.Errorf("%d heartbeats, %d hellos", len(heartbeats()), len(hellos()))
		}
		return nil
	})
	if h := hellos()[0]; h.Attributes[protocol.AttrMetrics] != "1" || h.Reserved != nil {
		t.Fatalf("first hello: attribute %q, reserved %+v; want the attribute and no reserved", h.Attributes[protocol.AttrMetrics], h.Reserved)
	}
	for _, hb := range heartbeats() {
		if hb.CPU != 0 || hb.MemUsedMiB != 0 || hb.Load1 != 0 || hb.Boot == 0 {
			t.Fatalf("heartbeat before central showed it takes metrics: %+v", hb)
		}
	}

	d := desired(id, 1)
	d.Metrics = true
	d.Kept = &protocol.KeptAllocs{} // central takes the disk figures too (gc.go)
	b.publish(topics.Desired(id), d, true)
	eventually(t, 10*time.Second, func() error {
		hs := hellos()
		if last := hs[len(hs)-1]; last.Reserved == nil || *last.Reserved != (protocol.Reserved{MemoryMB: 256}) {
			return fmt.Errorf("%d hellos, the last with reserved %+v", len(hs), last.Reserved)
		}
		return nil
	})
	n := len(heartbeats())
	eventually(t, 10*time.Second, func() error {
		hbs := heartbeats()
		if len(hbs) < n+2 {
			return fmt.Errorf("waiting for heartbeats")
		}
		hb := hbs[len(hbs)-1]
		if hb.MemUsedMiB != 600000>>10 || hb.Load1 != 42 || hb.Boot != 0 {
			return fmt.Errorf("heartbeat %+v: want memory 585 MiB, load 42, no Boot", hb)
		}
		if hb.DiskUsedMiB == 0 || hb.DiskUsed != 0 || hb.DiskAvail != 0 {
			return fmt.Errorf("heartbeat %+v: want the disk in MiB (keys 16-17), not in bytes", hb)
		}
		return nil
	})
	// 100 jiffies busy of 400 since the previous reading.
	writeProc(t, root, "cpu  150 0 150 1100 0 0 0 0 0 0\n")
	eventually(t, 10*time.Second, func() error {
		for _, hb := range heartbeats()[n:] {
			if hb.CPU == 250 {
				return nil
			}
		}
		return fmt.Errorf("no heartbeat with CPU 250 permille")
	})
}
