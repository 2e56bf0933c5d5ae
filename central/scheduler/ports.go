package scheduler

import (
	"hash/fnv"

	"github.com/tether-edge/tether/central/structs"
)

// nodeUsage is what the live allocations on one node use: those in the
// state (minus the ones this plan stops) plus those this plan places.
type nodeUsage struct {
	res     structs.Resources
	ports   map[int]struct{}
	dynUsed int // used ports inside the dynamic range
	// allocs and bytes are the node's desired state: the allocations in
	// it (desired.Included) and an upper bound on their encoded size.
	allocs, bytes int
}

// usageOf returns node i's usage, reading its allocs on first use.
func (s *sched) usageOf(i int) *nodeUsage {
	if u := s.usage[i]; u != nil {
		return u
	}
	u := &nodeUsage{}
	for _, a := range s.st.AllocsByNode(s.nodes[i].ID) {
		if a == nil || a.Terminal() || s.stopping[a.ID] {
			continue
		}
		u.add(a.Resources, a.Ports, s.opts)
		if n, ok := s.desiredBytes(a, i); ok {
			u.allocs++
			u.bytes += n
		}
	}
	s.usage[i] = u
	return u
}

func (u *nodeUsage) add(r structs.Resources, ports []structs.AllocPort, o Options) {
	u.res = u.res.Add(r)
	for _, p := range ports {
		u.take(p.Value, o)
	}
}

func (u *nodeUsage) used(port int) bool {
	_, ok := u.ports[port]
	return ok
}

func (u *nodeUsage) take(port int, o Options) {
	if u.ports == nil {
		u.ports = map[int]struct{}{}
	}
	if _, ok := u.ports[port]; ok {
		return
	}
	u.ports[port] = struct{}{}
	if port >= o.PortMin && port <= o.PortMax {
		u.dynUsed++
	}
}

// dynamicFree is how many dynamic ports group g could still get on u,
// after its own static ports are taken.
func (s *sched) dynamicFree(u *nodeUsage, g *groupCtx) int {
	free := s.opts.PortMax - s.opts.PortMin + 1 - u.dynUsed
	for _, p := range g.static {
		if p >= s.opts.PortMin && p <= s.opts.PortMax {
			free--
		}
	}
	return free
}

// assignPorts gives group g its ports on u for the alloc allocID and marks
// them used. Static ports are taken as asked (fit checked they are free).
// A dynamic port is the first free one at or after a start point hashed
// from the alloc ID and the port label, wrapping around the range: the
// choice is deterministic for a given alloc ID, and spreads allocs over the
// range so a replacement rarely reuses the port its predecessor just
// released. It returns false if the range is full.
func (s *sched) assignPorts(u *nodeUsage, g *groupCtx, allocID string) ([]structs.AllocPort, bool) {
	var out []structs.AllocPort
	for _, nw := range g.tg.Networks {
		if nw == nil {
			continue
		}
		for _, p := range nw.Ports {
			if p != nil && p.Static > 0 {
				u.take(p.Static, s.opts)
			}
		}
	}
	span := s.opts.PortMax - s.opts.PortMin + 1
	for _, nw := range g.tg.Networks {
		if nw == nil {
			continue
		}
		for _, p := range nw.Ports {
			if p == nil {
				continue
			}
			if p.Static > 0 {
				out = append(out, structs.AllocPort{Label: p.Label, Value: p.Static, To: p.To})
				continue
			}
			h := fnv.New32a()
			h.Write([]byte(allocID))
			h.Write([]byte{0})
			h.Write([]byte(p.Label))
			start := int(h.Sum32() % uint32(span))
			found := 0
			for k := 0; k < span; k++ {
				v := s.opts.PortMin + (start+k)%span
				if !u.used(v) {
					found = v
					break
				}
			}
			if found == 0 {
				return nil, false
			}
			u.take(found, s.opts)
			to := p.To
			if to == -1 { // Nomad: "to = -1" maps to the same port
				to = found
			}
			out = append(out, structs.AllocPort{Label: p.Label, Value: found, To: to})
		}
	}
	return out, true
}
