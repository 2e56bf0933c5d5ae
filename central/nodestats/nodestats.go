// Package nodestats keeps the last hour of each node's device metrics
// (CPU, memory, disk, temperature, load) from its heartbeats, in memory on
// the leader: one sample per minute per node, in a fixed ring of 60.
//
//	heartbeat ──► History.Record(node, now, hb) ──► ring[node] (same minute: replace; else append)
//	GET /v1/node/<id>/stats ──► History.Samples(node, now) ──► last hour, oldest first
//
// Nothing here goes through Raft: after a leader failover the history
// starts empty, as the leader's other heartbeat-derived state does.
// A sample is 24 bytes, a node's ring 1.4 KB: 10,000 nodes cost ~15 MB.
package nodestats

import (
	"math"
	"sync"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Size is how many samples a node keeps: one per minute, an hour.
const Size = 60

// Interval is one sample's time bucket: the heartbeats of one minute
// replace each other, the last one stays.
const Interval = time.Minute

// NoTemp marks a sample without a temperature.
const NoTemp = math.MinInt16

// Sample is one minute of a node's metrics, in the heartbeat's units.
type Sample struct {
	Unix       uint32 // unix seconds of the heartbeat's arrival at the leader
	MemUsedMiB uint32
	DiskUsedMiB,
	DiskAvailMiB uint32
	CPU   uint16 // busy permille of all cores
	Load1 uint16 // 1-minute load average ×100 (saturates at 655.35)
	Temp  int16  // tenths of °C; NoTemp: none
}

// FromHeartbeat converts what a heartbeat carries, clamping out-of-range
// values (they come from the network).
func FromHeartbeat(at time.Time, hb *protocol.Heartbeat) Sample {
	used, avail := hb.Disk()
	s := Sample{
		Unix:         uint32(clamp(at.Unix(), 0, math.MaxUint32)),
		MemUsedMiB:   uint32(min(hb.MemUsedMiB, math.MaxUint32)),
		DiskUsedMiB:  uint32(min(used>>20, math.MaxUint32)),
		DiskAvailMiB: uint32(min(avail>>20, math.MaxUint32)),
		CPU:          uint16(clamp(int64(hb.CPU), 0, 1000)),
		Load1:        uint16(clamp(int64(hb.Load1), 0, math.MaxUint16)),
		Temp:         NoTemp,
	}
	if hb.SoCTemp != 0 {
		s.Temp = int16(clamp(int64(hb.SoCTemp), math.MinInt16+1, math.MaxInt16))
	}
	return s
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

// ring is one node's samples: buf[(head+i)%Size] for i < n, oldest first.
type ring struct {
	buf  [Size]Sample
	head uint8
	n    uint8
}

func (r *ring) add(s Sample) {
	if r.n > 0 {
		last := &r.buf[(int(r.head)+int(r.n)-1)%Size]
		if int64(last.Unix)/int64(Interval/time.Second) == int64(s.Unix)/int64(Interval/time.Second) {
			*last = s
			return
		}
	}
	if r.n < Size {
		r.buf[(int(r.head)+int(r.n))%Size] = s
		r.n++
		return
	}
	r.buf[r.head] = s
	r.head = uint8((int(r.head) + 1) % Size)
}

// History is every node's ring. Its zero value is ready to use; it is
// safe for concurrent use.
type History struct {
	mu    sync.Mutex       // guards nodes
	nodes map[string]*ring // node ID → its samples
}

// Record adds a heartbeat received at at: O(1), under the lock only.
func (h *History) Record(nodeID string, at time.Time, hb *protocol.Heartbeat) {
	if hb == nil {
		return
	}
	s := FromHeartbeat(at, hb)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nodes == nil {
		h.nodes = map[string]*ring{}
	}
	r := h.nodes[nodeID]
	if r == nil {
		r = &ring{}
		h.nodes[nodeID] = r
	}
	r.add(s)
}

// Samples returns a node's samples of the hour before now, oldest first
// (nil if none).
func (h *History) Samples(nodeID string, now time.Time) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.nodes[nodeID]
	if r == nil {
		return nil
	}
	from := now.Add(-time.Hour).Unix()
	var out []Sample
	for i := 0; i < int(r.n); i++ {
		s := r.buf[(int(r.head)+i)%Size]
		if int64(s.Unix) > from {
			out = append(out, s)
		}
	}
	return out
}

// Prune drops the nodes for which keep is false and returns how many.
func (h *History) Prune(keep func(string) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id := range h.nodes {
		if !keep(id) {
			delete(h.nodes, id)
			n++
		}
	}
	return n
}

// Len is the number of nodes with samples.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.nodes)
}
