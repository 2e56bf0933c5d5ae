package agent

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/allocgc"
	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// startAgentGC is startAgent with the GC settings and disk usage given.
func startAgentGC(t *testing.T, dir, broker string, drv drivers.Driver, mod func(*config.Config), statfs func(string) (allocgc.Usage, error)) *runningAgent {
	t.Helper()
	cfg := testConfig(dir, broker)
	mod(cfg)
	a, err := New(Options{
		Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), Version: "test",
		FingerprintRoot: "fingerprint/testdata/pi4", RetryInterval: 50 * time.Millisecond,
		LookupEnv: func(string) (string, bool) { return "", false },
		Statfs:    statfs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

// allocDirs lists the allocation directories under dataDir.
func allocDirs(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "allocs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func batchAlloc(id string) protocol.DesiredAlloc {
	a := serviceAlloc(id, map[string]any{"exit_after": "20ms"})
	a.JobID, a.JobType = "batch-"+id, "batch"
	return a
}

// markRunning writes a file into a running allocation's directory: the
// GC must never remove it.
func markRunning(t *testing.T, dataDir, id string) string {
	t.Helper()
	marker := filepath.Join(dataDir, "allocs", id, "alloc", "data", "marker")
	eventually(t, 10*time.Second, func() error { return os.WriteFile(marker, []byte("x"), 0o644) })
	return marker
}

// 50 short batch allocations run on one agent with gc_max_allocs = 10,
// five at a time, each set dropped from the desired state once central
// has their final status (as central does): at most 10 allocations'
// directories remain, the oldest go first, the running service's stays,
// and the state file forgets the finished ones.
func TestGCMaxAllocs(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	a := startAgentGC(t, dir, b.url(), fake.New(), func(c *config.Config) {
		c.GCMaxAllocs = 10
		c.GCInterval = time.Hour // checks come from allocations starting and finishing
	}, func(string) (allocgc.Usage, error) { return allocgc.Usage{Used: 1, Avail: 99}, nil })
	id := a.NodeID()

	svc := serviceAlloc("svc", nil)
	index := uint64(1)
	b.publish(topics.Desired(id), desired(id, index, svc), true)
	waitStatus(t, b, id, "svc", protocol.AllocRunning)
	marker := markRunning(t, dir, "svc")

	var order []string // batch allocations in the order they ran
	for wave := 0; wave < 10; wave++ {
		allocs := []protocol.DesiredAlloc{svc}
		for i := 0; i < 5; i++ {
			bid := fmt.Sprintf("b%02d", wave*5+i)
			allocs = append(allocs, batchAlloc(bid))
			order = append(order, bid)
		}
		index++
		b.publish(topics.Desired(id), desired(id, index, allocs...), true)
		for _, ba := range allocs[1:] {
			waitStatus(t, b, id, ba.ID, protocol.AllocComplete)
		}
		if n := len(allocDirs(t, dir)); n > 10+5 {
			t.Fatalf("wave %d: %d allocation directories", wave, n)
		}
		index++ // central drops finished allocations from the desired state
		b.publish(topics.Desired(id), desired(id, index, svc), true)
	}
	// 1 running + the 9 that finished last (by the time of their final
	// update; the ties of one wave broken by id).
	finished := map[string]int64{}
	for _, u := range b.updates(id) {
		if u.ClientStatus == protocol.AllocComplete {
			finished[u.AllocID] = u.Time
		}
	}
	slices.SortFunc(order, func(x, y string) int {
		if c := cmp.Compare(finished[x], finished[y]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	want := append([]string{"svc"}, order[len(order)-9:]...)
	sort.Strings(want)
	eventually(t, 10*time.Second, func() error {
		if got := allocDirs(t, dir); !slices.Equal(got, want) {
			return fmt.Errorf("allocation directories %v, want %v", got, want)
		}
		recs, err := a.store.Allocs()
		if err != nil || len(recs) != 1 || recs[0].Alloc.ID != "svc" {
			return fmt.Errorf("state file holds %d allocations (%v), want only svc", len(recs), err)
		}
		return nil
	})
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the running allocation's directory was touched: %v", err)
	}
	if got := lastStatus(b.updates(id), "svc"); got != protocol.AllocRunning {
		t.Fatalf("svc is %q", got)
	}
	c := a.Counters()
	if c.GCRemoved != 41 || c.GCBytesFreed == 0 || c.GCFailed != 0 || c.DiskUsed != 1 || c.DiskAvail != 99 {
		t.Fatalf("counters %+v (want 41 directories removed)", c)
	}
}

// Over gc_disk_usage_threshold every finished allocation's directory goes,
// oldest first, until the usage (less what was freed) is under it; the
// running allocation's stays. Below the thresholds a finished directory
// stays, however many gc_interval checks pass after central stopped
// listing it (gc_interval is only how often the agent checks, as Nomad's).
func TestGCDiskUsageAndInterval(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	var full atomic.Bool
	var used atomic.Uint64 // below the threshold: the usage each check reads
	used.Store(10 << 30)
	a := startAgentGC(t, dir, b.url(), fake.New(), func(c *config.Config) {
		c.GCInterval = 300 * time.Millisecond
	}, func(string) (allocgc.Usage, error) {
		if full.Load() {
			return allocgc.Usage{Used: 95 << 30, Avail: 5 << 30}, nil
		}
		return allocgc.Usage{Used: used.Load(), Avail: 100<<30 - used.Load()}, nil
	})
	id := a.NodeID()
	// The hello carries the data dir's storage as Nomad names it.
	eventually(t, 10*time.Second, func() error {
		h := b.received(topics.Hello(id))
		if len(h) == 0 {
			return fmt.Errorf("no hello")
		}
		var hello protocol.Hello
		if err := protocol.Decode(h[0], &hello); err != nil {
			return err
		}
		if hello.Attributes["unique.storage.bytestotal"] != fmt.Sprint(100<<30) || hello.Attributes["unique.storage.bytesfree"] != fmt.Sprint(90<<30) ||
			hello.Attributes["driver.fake"] != "1" {
			return fmt.Errorf("hello attributes %v", hello.Attributes)
		}
		return nil
	})
	svc := serviceAlloc("svc", nil)
	b.publish(topics.Desired(id), desired(id, 1, svc, batchAlloc("b1"), batchAlloc("b2")), true)
	for _, x := range []string{"b1", "b2"} {
		waitStatus(t, b, id, x, protocol.AllocComplete)
	}
	waitStatus(t, b, id, "svc", protocol.AllocRunning)
	marker := markRunning(t, dir, "svc")
	if got := allocDirs(t, dir); !slices.Equal(got, []string{"b1", "b2", "svc"}) {
		t.Fatalf("below the threshold: %v", got)
	}

	// The disk fills up; the next check (a new allocation) empties it of
	// finished allocations.
	full.Store(true)
	b.publish(topics.Desired(id), desired(id, 2, svc, batchAlloc("b1"), batchAlloc("b2"), batchAlloc("b3")), true)
	waitStatus(t, b, id, "b3", protocol.AllocComplete)
	eventually(t, 10*time.Second, func() error {
		if got := allocDirs(t, dir); !slices.Equal(got, []string{"svc"}) {
			return fmt.Errorf("disk full: directories %v, want only svc", got)
		}
		return nil
	})
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the running allocation's directory was touched: %v", err)
	}
	if c := a.Counters(); c.GCRemoved != 3 || c.DiskUsed != 95<<30 {
		t.Fatalf("counters %+v", c)
	}

	// Room again: a finished allocation stays while central lists it, and
	// after central stopped listing it too: the checks that follow (the
	// usage they read changes, so each one shows in DiskUsed) remove
	// nothing below the thresholds.
	full.Store(false)
	b.publish(topics.Desired(id), desired(id, 3, svc, batchAlloc("b4")), true)
	waitStatus(t, b, id, "b4", protocol.AllocComplete)
	if got := allocDirs(t, dir); !slices.Equal(got, []string{"b4", "svc"}) {
		t.Fatalf("listed and finished: %v", got)
	}
	b.publish(topics.Desired(id), desired(id, 4, svc), true)
	for _, u := range []uint64{11 << 30, 12 << 30, 13 << 30} {
		used.Store(u)
		eventually(t, 10*time.Second, func() error {
			if c := a.Counters(); c.DiskUsed != u {
				return fmt.Errorf("no check has read %d bytes used yet (DiskUsed %d)", u, c.DiskUsed)
			}
			return nil
		})
	}
	if got := allocDirs(t, dir); !slices.Equal(got, []string{"b4", "svc"}) {
		t.Fatalf("unlisted, below the thresholds, after three checks: directories %v, want b4 and svc", got)
	}
	if c := a.Counters(); c.GCRemoved != 3 {
		t.Fatalf("counters %+v", c)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the running allocation's directory was touched: %v", err)
	}
}

// Directories of allocations the agent forgot before it restarted are
// found at start and count toward gc_max_allocs, oldest first; those it
// still holds are kept.
func TestGCAfterRestart(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	roomy := func(string) (allocgc.Usage, error) { return allocgc.Usage{Used: 1, Avail: 99}, nil }
	a := startAgentGC(t, dir, b.url(), fake.New(), func(c *config.Config) { c.GCInterval = time.Hour }, roomy)
	id := a.NodeID()
	b.publish(topics.Desired(id), desired(id, 1, batchAlloc("b1"), batchAlloc("b2")), true)
	waitStatus(t, b, id, "b1", protocol.AllocComplete)
	waitStatus(t, b, id, "b2", protocol.AllocComplete)
	b.publish(topics.Desired(id), desired(id, 2, batchAlloc("b2")), true) // b1 is forgotten, b2 still listed
	eventually(t, 10*time.Second, func() error {
		if recs, _ := a.store.Allocs(); len(recs) != 1 {
			return fmt.Errorf("%d allocations held", len(recs))
		}
		return nil
	})
	a.stop(t)

	a = startAgentGC(t, dir, b.url(), fake.New(), func(c *config.Config) {
		c.GCInterval = 300 * time.Millisecond
		c.GCMaxAllocs = 1
	}, roomy)
	eventually(t, 10*time.Second, func() error {
		if got := allocDirs(t, dir); !slices.Equal(got, []string{"b2"}) {
			return fmt.Errorf("directories %v, want b2 only", got)
		}
		if c := a.Counters(); c.GCRemoved != 1 { // counted just after the removal
			return fmt.Errorf("counters %+v", c)
		}
		return nil
	})
}

// A finished task that left a symbolic link to a directory outside its
// allocation: the GC removes the link, never what it points to, and does
// not count the target's bytes as freed.
func TestGCDoesNotFollowSymlinks(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	outside := t.TempDir()
	precious := filepath.Join(outside, "precious")
	if err := os.WriteFile(precious, bytes.Repeat([]byte{1}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var full atomic.Bool
	drv := fake.New()
	a := startAgentGC(t, dir, b.url(), drv, func(c *config.Config) { c.GCInterval = time.Hour }, func(string) (allocgc.Usage, error) {
		if full.Load() {
			return allocgc.Usage{Used: 99, Avail: 1}, nil
		}
		return allocgc.Usage{Used: 1, Avail: 99}, nil
	})
	id := a.NodeID()
	ba := batchAlloc("b1")
	ba.Tasks[0].Config = nil // exits when the test says
	b.publish(topics.Desired(id), desired(id, 1, ba), true)
	waitStatus(t, b, id, "b1", protocol.AllocRunning)
	data := filepath.Join(dir, "allocs", "b1", "alloc", "data")
	if err := os.Symlink(outside, filepath.Join(data, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(precious, filepath.Join(data, "escape-file")); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	drv.Task("b1/t").Exit(0)
	eventually(t, 10*time.Second, func() error {
		if got := allocDirs(t, dir); len(got) != 0 {
			return fmt.Errorf("directories %v", got)
		}
		if c := a.Counters(); c.GCRemoved != 1 { // counted just after the removal
			return fmt.Errorf("counters %+v", c)
		}
		return nil
	})
	if fi, err := os.Stat(precious); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("the file behind the link: %v", err)
	}
	if c := a.Counters(); c.GCRemoved != 1 || c.GCBytesFreed >= 1<<20 {
		t.Fatalf("counters %+v: the link's target was counted", c)
	}
}

// A finished allocation's directory stays while central keeps the
// allocation (Desired.Kept), and goes gc_interval after a desired state
// that neither lists nor keeps it: central's GC collected it. A partial
// or missing Kept (an older central) removes nothing. The hello says the
// agent understands Kept.
func TestGCCollectedByCentral(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	var used atomic.Uint64 // below the thresholds: each check reads it
	used.Store(10 << 30)
	a := startAgentGC(t, dir, b.url(), fake.New(), func(c *config.Config) {
		c.GCInterval = 300 * time.Millisecond
	}, func(string) (allocgc.Usage, error) {
		return allocgc.Usage{Used: used.Load(), Avail: 100<<30 - used.Load()}, nil
	})
	id := a.NodeID()
	eventually(t, 10*time.Second, func() error {
		h := b.received(topics.Hello(id))
		if len(h) == 0 {
			return fmt.Errorf("no hello")
		}
		var hello protocol.Hello
		if err := protocol.Decode(h[0], &hello); err != nil {
			return err
		}
		if hello.Attributes[protocol.AttrKeptAllocs] != "1" {
			return fmt.Errorf("hello attributes %v", hello.Attributes)
		}
		return nil
	})
	// checks waits for three GC checks to have run (each reads a new
	// usage), gc_interval apart at least.
	checks := func() {
		for range 3 {
			u := used.Add(1 << 20)
			eventually(t, 10*time.Second, func() error {
				if c := a.Counters(); c.DiskUsed != u {
					return fmt.Errorf("no check has read %d bytes used yet (DiskUsed %d)", u, c.DiskUsed)
				}
				return nil
			})
		}
	}
	withKept := func(d *protocol.Desired, k *protocol.KeptAllocs) *protocol.Desired {
		d.Kept = k
		return d
	}
	svc := serviceAlloc("svc", nil)
	b.publish(topics.Desired(id), desired(id, 1, svc, batchAlloc("b1"), batchAlloc("b2"), batchAlloc("b3")), true)
	for _, x := range []string{"b1", "b2", "b3"} {
		waitStatus(t, b, id, x, protocol.AllocComplete)
	}
	waitStatus(t, b, id, "svc", protocol.AllocRunning)
	marker := markRunning(t, dir, "svc")
	heartbeats := func() []protocol.Heartbeat { return receivedAs[protocol.Heartbeat](t, b, topics.Heartbeat(id)) }
	// No desired state with Kept yet (an older central): heartbeats
	// carry no disk fields, which it would refuse.
	eventually(t, 10*time.Second, func() error {
		if len(heartbeats()) == 0 {
			return fmt.Errorf("no heartbeat yet")
		}
		return nil
	})
	for _, hb := range heartbeats() {
		if hb.DiskUsed != 0 || hb.DiskAvail != 0 || hb.GCRemoved != 0 {
			t.Fatalf("heartbeat with disk fields before central showed it takes them: %+v", hb)
		}
	}

	// Finished and unlisted, but kept by central: they stay.
	b.publish(topics.Desired(id), withKept(desired(id, 2, svc), &protocol.KeptAllocs{IDs: []string{"b1", "b2", "b3"}}), true)
	checks()
	if got := allocDirs(t, dir); !slices.Equal(got, []string{"b1", "b2", "b3", "svc"}) {
		t.Fatalf("kept by central: directories %v", got)
	}
	// Central collected b1 and b3.
	b.publish(topics.Desired(id), withKept(desired(id, 3, svc), &protocol.KeptAllocs{IDs: []string{"b2"}}), true)
	eventually(t, 10*time.Second, func() error {
		if got := allocDirs(t, dir); !slices.Equal(got, []string{"b2", "svc"}) {
			return fmt.Errorf("after central collected b1 and b3: directories %v, want b2 and svc", got)
		}
		return nil
	})
	// The heartbeat now says how full the disk is and what the GC removed.
	eventually(t, 10*time.Second, func() error {
		hbs := heartbeats()
		if hb := hbs[len(hbs)-1]; hb.GCRemoved != 2 || hb.DiskUsed < 10<<30 || hb.DiskAvail == 0 {
			return fmt.Errorf("latest heartbeat %+v, want 2 removed and the disk", hb)
		}
		return nil
	})
	// A partial list, then none at all (an older central): b2 stays.
	b.publish(topics.Desired(id), withKept(desired(id, 4, svc), &protocol.KeptAllocs{Partial: true}), true)
	checks()
	b.publish(topics.Desired(id), desired(id, 5, svc), true)
	checks()
	if got := allocDirs(t, dir); !slices.Equal(got, []string{"b2", "svc"}) {
		t.Fatalf("partial or no Kept: directories %v, want b2 and svc", got)
	}
	if c := a.Counters(); c.GCRemoved != 2 {
		t.Fatalf("counters %+v, want 2 removed", c)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the running allocation's directory was touched: %v", err)
	}
}
