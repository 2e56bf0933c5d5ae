package allocgc

import (
	"cmp"
	"slices"
	"time"
)

// Reasons a directory is removed (also the log's and the counters' labels).
const (
	ReasonMaxAllocs = "max_allocs"
	ReasonDiskUsage = "disk_usage"
	// ReasonCollected: central's GC collected the allocation gc_interval
	// ago (the agent removes it itself, not through Select).
	ReasonCollected = "collected"
)

// Policy is the agent's GC configuration (gc_interval, gc_max_allocs,
// gc_disk_usage_threshold).
type Policy struct {
	MaxAllocs     int
	DiskThreshold float64 // percent of the filesystem in use, 0 < t <= 100
}

// Dir is one finished allocation's directory.
type Dir struct {
	ID       string
	Finished time.Time // when its last task stopped: older goes first
	Bytes    uint64    // disk space the directory takes (0 if not measured)
}

// Usage is the data dir's filesystem as statfs sees it: Used and Avail as
// df shows them (blocks reserved for root count in neither).
type Usage struct {
	Used, Avail uint64
}

// Percent is the part of the filesystem in use, as df prints it.
func (u Usage) Percent() float64 {
	if u.Used+u.Avail == 0 {
		return 0
	}
	return float64(u.Used) * 100 / float64(u.Used+u.Avail)
}

// Removal is one directory to remove and why.
type Removal struct {
	ID     string
	Reason string
	Bytes  uint64
}

// Select returns the directories to remove, oldest finished first within
// each reason. live is the number of allocations the agent holds that
// are not in dirs (running, starting, stopping). dirs is not modified.
func Select(p Policy, live int, dirs []Dir, u Usage) []Removal {
	order := slices.Clone(dirs)
	slices.SortFunc(order, func(a, b Dir) int {
		if c := a.Finished.Compare(b.Finished); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var out []Removal
	keep := order
	for len(keep) > 0 && p.MaxAllocs > 0 && live+len(keep) > p.MaxAllocs {
		out = append(out, Removal{ID: keep[0].ID, Reason: ReasonMaxAllocs, Bytes: keep[0].Bytes})
		keep = keep[1:]
	}
	freed := uint64(0)
	for _, r := range out {
		freed += r.Bytes
	}
	for len(keep) > 0 && p.DiskThreshold > 0 && after(u, freed).Percent() > p.DiskThreshold {
		out = append(out, Removal{ID: keep[0].ID, Reason: ReasonDiskUsage, Bytes: keep[0].Bytes})
		freed += keep[0].Bytes
		keep = keep[1:]
	}
	return out
}

// after is u once freed bytes are deleted.
func after(u Usage, freed uint64) Usage {
	freed = min(freed, u.Used)
	return Usage{Used: u.Used - freed, Avail: u.Avail + freed}
}
