package agent

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tether-edge/tether/agent/allocgc"
	"github.com/tether-edge/tether/agent/allocrunner"
	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/protocol"
)

// allocGC removes finished allocations' directories, as Nomad's client GC
// does (agent/allocgc decides which; docs/agent.md). It runs on the Run
// goroutine, so a directory is never removed while a runner for the same
// allocation starts. The maps are owned by the Run goroutine; the
// counters may be read from any.
type allocGC struct {
	// unlisted are allocations the agent has forgotten (central no longer
	// lists them) whose directories remain, by id.
	unlisted map[string]allocgc.Dir
	// gone are allocations still held whose directories were removed.
	gone map[string]bool
	// collected are unlisted allocations central's GC has collected (the
	// desired state neither lists nor keeps them), with when the agent
	// learnt it: their directories go gc_interval later.
	collected map[string]time.Time

	removed, freed atomic.Uint64 // directories removed, bytes they took
	used, avail    atomic.Uint64 // the data dir's filesystem at the last check
	fails          atomic.Uint64 // directories that could not be removed
	// centralKept: the latest desired state carried Kept, so central is
	// new enough to take the heartbeat's disk and GC fields.
	centralKept atomic.Bool
}

// statfs reads the usage of the filesystem holding path.
func statfs(path string) (allocgc.Usage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return allocgc.Usage{}, err
	}
	bs := uint64(st.Bsize)
	return allocgc.Usage{Used: (uint64(st.Blocks) - uint64(st.Bfree)) * bs, Avail: uint64(st.Bavail) * bs}, nil
}

// gcInterval is gc_interval (the default for a config built without
// config.Default: a zero interval would stop the ticker from starting).
func (a *Agent) gcInterval() time.Duration {
	if a.cfg.GCInterval <= 0 {
		return config.DefaultGCInterval
	}
	return a.cfg.GCInterval
}

// helloAttributes are the fingerprint's attributes and, as Nomad's
// storage fingerprint names them, the data dir's filesystem now:
// unique.storage.bytestotal (used + available, as df's percentage counts
// it) and unique.storage.bytesfree (available to the agent).
//
// It also carries protocol.AttrKeptAllocs: central then sends which
// finished allocations it still holds (Desired.Kept), so the GC learns
// which ones central collected.
func (a *Agent) helloAttributes() map[string]string {
	attrs := maps.Clone(a.fp.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[protocol.AttrKeptAllocs] = "1"
	attrs[protocol.AttrAllocActions] = "1" // operator actions (actions.go)
	attrs[protocol.AttrMetrics] = "1"      // device metrics, reserved (metrics.go)
	attrs[protocol.AttrExec] = "1"         // alloc exec sessions (exec.go)
	attrs[protocol.AttrEcho] = "1"         // Heartbeat.Applied (agent.go)
	a.upgradeAttr(attrs)                   // over-the-air upgrades (upgrade.go)
	u, err := a.opts.Statfs(a.cfg.DataDir)
	if err != nil {
		return attrs
	}
	attrs["unique.storage.bytestotal"] = strconv.FormatUint(u.Used+u.Avail, 10)
	attrs["unique.storage.bytesfree"] = strconv.FormatUint(u.Avail, 10)
	return attrs
}

func (a *Agent) allocsDir() string { return filepath.Join(a.cfg.DataDir, "allocs") }

// gcInit finds, after restore, the directories of allocations the agent
// no longer holds (forgotten before a restart, or left by a lost state
// file): they count as unlisted from now, finished when their directory
// was last changed.
func (a *Agent) gcInit(now time.Time) {
	a.gc.unlisted = map[string]allocgc.Dir{}
	a.gc.gone = map[string]bool{}
	a.gc.collected = map[string]time.Time{}
	ents, err := os.ReadDir(a.allocsDir())
	if err != nil && !os.IsNotExist(err) {
		a.log.Warn("allocation GC: listing allocation directories", "err", err)
	}
	present := map[string]bool{}
	for _, de := range ents {
		id := de.Name()
		if !de.IsDir() || !safeName(id) {
			continue
		}
		present[id] = true
		if a.allocs[id] != nil {
			continue
		}
		d := allocgc.Dir{ID: id, Finished: now}
		if fi, err := de.Info(); err == nil {
			d.Finished = fi.ModTime()
		}
		a.gc.unlisted[id] = d
	}
	for id, e := range a.allocs {
		if !present[id] && e.runner == nil {
			a.gc.gone[id] = true
		}
	}
	if len(a.gc.unlisted) > 0 {
		a.log.Info("allocation GC: directories of allocations no longer held", "count", len(a.gc.unlisted))
	}
}

// gcForget is called when the agent forgets a finished allocation: its
// directory stays until the GC removes it.
func (a *Agent) gcForget(e *allocEntry) {
	if a.gc.unlisted == nil {
		return // restoring: gcInit finds the directory
	}
	id := e.rec.Alloc.ID
	if a.gc.gone[id] {
		delete(a.gc.gone, id)
		return
	}
	if e.rec.Client.ClientStatus == "" {
		return // never started: no directory
	}
	a.gc.unlisted[id] = allocgc.Dir{ID: id, Finished: time.UnixMilli(e.rec.Client.Time)}
}

// noteKept takes from a desired state which unlisted allocations central
// has collected: those it neither lists nor keeps. A desired state without
// Kept (a central older than the field) or with a partial list says
// nothing, and the directories wait for gc_max_allocs or the disk check.
func (a *Agent) noteKept(d *protocol.Desired, now time.Time) {
	a.gc.centralKept.Store(d.Kept != nil)
	if a.gc.unlisted == nil {
		return // restoring: the next desired state (retained) tells
	}
	if d.Kept == nil || d.Kept.Partial {
		clear(a.gc.collected)
		return
	}
	kept := make(map[string]bool, len(d.Kept.IDs))
	for _, id := range d.Kept.IDs {
		kept[id] = true
	}
	for id := range a.gc.collected {
		if _, unlisted := a.gc.unlisted[id]; kept[id] || !unlisted {
			delete(a.gc.collected, id)
		}
	}
	for id := range a.gc.unlisted {
		if !kept[id] && a.gc.collected[id].IsZero() {
			a.gc.collected[id] = now
		}
	}
}

// collect removes the directories allocgc.Select picks. It is called on
// every gc_interval tick, and when allocations start or finish (the
// gc_max_allocs check).
func (a *Agent) collect(now time.Time) {
	if a.gc.unlisted == nil {
		return // before gcInit
	}
	var dirs []allocgc.Dir
	live := 0
	for id, e := range a.allocs {
		delete(a.gc.unlisted, id) // listed again: it is the entry's now
		switch {
		case e.runner != nil || !allocrunner.Terminal(e.rec.Client.ClientStatus) && e.rec.Client.ClientStatus != "":
			live++
		case allocrunner.Terminal(e.rec.Client.ClientStatus) && !a.gc.gone[id]:
			dirs = append(dirs, allocgc.Dir{ID: id, Finished: time.UnixMilli(e.rec.Client.Time)})
		}
	}
	for id, d := range a.gc.unlisted {
		if at, ok := a.gc.collected[id]; ok && now.Sub(at) >= a.gcInterval() {
			// Central collected it gc_interval ago, as Nomad's client
			// removes an allocation the servers have garbage-collected.
			a.removeAllocDir(allocgc.Removal{ID: id, Reason: allocgc.ReasonCollected}, allocgc.Usage{})
			continue
		}
		dirs = append(dirs, d)
	}
	usage, err := a.opts.Statfs(a.cfg.DataDir)
	if err != nil {
		a.log.Warn("allocation GC: reading the data dir's disk usage; the disk check waits for the next try", "err", err)
	} else {
		a.gc.used.Store(usage.Used)
		a.gc.avail.Store(usage.Avail)
	}
	policy := allocgc.Policy{MaxAllocs: a.cfg.GCMaxAllocs, DiskThreshold: a.cfg.GCDiskUsageThreshold}
	if err != nil {
		policy.DiskThreshold = 0
	}
	if policy.DiskThreshold > 0 && usage.Percent() > policy.DiskThreshold {
		for i := range dirs {
			dirs[i].Bytes = diskUsage(filepath.Join(a.allocsDir(), dirs[i].ID))
		}
	}
	for _, r := range allocgc.Select(policy, live, dirs, usage) {
		a.removeAllocDir(r, usage)
	}
}

func (a *Agent) removeAllocDir(r allocgc.Removal, usage allocgc.Usage) {
	dir := filepath.Join(a.allocsDir(), r.ID)
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		a.forgetDir(r.ID) // never created (a task that could not start), or removed by hand
		return
	}
	bytes := r.Bytes
	if bytes == 0 {
		bytes = diskUsage(dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		a.gc.fails.Add(1)
		a.log.Error("allocation GC: removing an allocation directory; tried again at the next check", "alloc", r.ID, "dir", dir, "err", err)
		return
	}
	a.forgetDir(r.ID)
	a.gc.removed.Add(1)
	a.gc.freed.Add(bytes)
	a.log.Info("allocation GC: removed a finished allocation's directory", "alloc", r.ID, "reason", r.Reason,
		"bytes", bytes, "disk_used_percent", int(usage.Percent()))
}

// forgetDir notes that allocation id has no directory any more.
func (a *Agent) forgetDir(id string) {
	if a.allocs[id] != nil {
		a.gc.gone[id] = true
	}
	delete(a.gc.unlisted, id)
	delete(a.gc.collected, id)
}

// diskUsage is the space the files under dir take (allocated blocks; the
// apparent size where the file system does not say). Symbolic links are
// not followed.
func diskUsage(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += uint64(st.Blocks) * 512
		} else {
			n += uint64(max(fi.Size(), 0))
		}
		return nil
	})
	return n
}
