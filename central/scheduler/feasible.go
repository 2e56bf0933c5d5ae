package scheduler

import (
	"slices"
	"strconv"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Filter reasons recorded in AllocMetric.ConstraintFiltered that are not
// constraints.
const (
	ReasonMissingDrivers = "missing drivers"
)

// groupCtx is what the scheduler knows about one task group during one
// Compute call.
type groupCtx struct {
	tg          *jobspec.TaskGroup
	need        structs.Resources
	static      []int // static host ports
	dynamic     int   // number of dynamic ports
	drivers     []string
	constraints []*jobspec.Constraint // job + group + task, without distinct_*
	// distinctHosts is set when the job (or the group) allows one alloc
	// per node; distinctHostsName names the constraint in metrics.
	distinctJob, distinctGroup bool
	distinctHostsName          string
	props                      []*propSet // distinct_property sets that apply

	feas   []uint8  // by node index: 0 unknown, feasOK, feasNo
	reason []string // by node index, when feasNo
	count  []int32  // live allocs of this group per node index

	failed *structs.AllocMetric
}

const (
	feasOK = 1
	feasNo = 2
)

// propSet counts allocs per value of a node property, for distinct_property.
type propSet struct {
	c      *jobspec.Constraint
	name   string
	group  string // "" for a job-level constraint
	limit  int
	counts map[string]int
}

// group returns the context of tg, building it on first use.
func (s *sched) group(tg *jobspec.TaskGroup) *groupCtx {
	if g, ok := s.groups[tg.Name]; ok {
		return g
	}
	g := &groupCtx{
		tg:     tg,
		feas:   make([]uint8, len(s.nodes)),
		reason: make([]string, len(s.nodes)),
		count:  make([]int32, len(s.nodes)),
	}
	g.need = groupNeed(tg) // lifecycle.go
	for _, t := range tg.Tasks {
		if t.Driver != "" && !slices.Contains(g.drivers, t.Driver) {
			g.drivers = append(g.drivers, t.Driver)
		}
	}
	for _, nw := range tg.Networks {
		if nw == nil {
			continue
		}
		for _, p := range nw.Ports {
			if p == nil {
				continue
			}
			if p.Static > 0 {
				g.static = append(g.static, p.Static)
			} else {
				g.dynamic++
			}
		}
	}
	add := func(cs []*jobspec.Constraint, jobLevel bool) {
		for _, c := range cs {
			if c == nil {
				continue
			}
			switch c.Operand {
			case OpDistinctHosts:
				if c.RTarget == "false" {
					continue
				}
				if jobLevel {
					g.distinctJob = true
				} else {
					g.distinctGroup = true
				}
				g.distinctHostsName = constraintString(c)
			case OpDistinctProperty:
				group := tg.Name
				if jobLevel {
					group = ""
				}
				g.props = append(g.props, s.propSet(c, group))
			default:
				g.constraints = append(g.constraints, c)
			}
		}
	}
	add(s.job.Constraints, true)
	add(tg.Constraints, false)
	for _, t := range tg.Tasks {
		add(t.Constraints, false)
	}
	if s.primed {
		s.countGroup(g)
	}
	s.groups[tg.Name] = g
	return g
}

// countGroup counts the live allocs of g's group per node. It runs once
// the plan's stops are known (see apply).
func (s *sched) countGroup(g *groupCtx) {
	for _, a := range s.liveJobAllocs {
		if a.TaskGroup == g.tg.Name {
			if i, ok := s.nodeByID[a.NodeID]; ok {
				g.count[i]++
			}
		}
	}
}

// countProp counts the live allocs per property value for p. It runs once
// the plan's stops are known (see apply).
func (s *sched) countProp(p *propSet) {
	for _, a := range s.liveJobAllocs {
		if p.group != "" && a.TaskGroup != p.group {
			continue
		}
		if i, ok := s.nodeByID[a.NodeID]; ok {
			if v, ok := resolveTarget(p.c.LTarget, s.nodes[i]); ok {
				p.counts[v]++
			}
		}
	}
}

// propSet returns the shared distinct_property set for (c, group), counting
// the job's live allocs on first use.
func (s *sched) propSet(c *jobspec.Constraint, group string) *propSet {
	for _, p := range s.props {
		if p.group == group && p.c.LTarget == c.LTarget && p.c.RTarget == c.RTarget {
			return p
		}
	}
	limit := 1
	if n, err := strconv.Atoi(c.RTarget); err == nil && n > 0 {
		limit = n
	}
	p := &propSet{c: c, name: constraintString(c), group: group, limit: limit, counts: map[string]int{}}
	if s.primed {
		s.countProp(p)
	}
	s.props = append(s.props, p)
	return p
}

// feasible reports whether group g may go on node i, recording why not in
// m. The static part (drivers, constraints) is computed once per node and
// group; distinct_* constraints are checked every time.
func (s *sched) feasible(g *groupCtx, i int, m *structs.AllocMetric) bool {
	if !s.staticOK(g, i) {
		filter(m, g.reason[i])
		return false
	}
	if (g.distinctJob && s.jobCount[i] > 0) || (g.distinctGroup && g.count[i] > 0) {
		filter(m, g.distinctHostsName)
		return false
	}
	for _, p := range g.props {
		v, ok := resolveTarget(p.c.LTarget, s.nodes[i])
		if !ok || p.counts[v] >= p.limit {
			filter(m, p.name)
			return false
		}
	}
	return true
}

// staticReason returns why node n can never take group g, or "".
func (s *sched) staticReason(g *groupCtx, n *structs.Node) string {
	for _, d := range g.drivers {
		if !slices.Contains(n.Drivers, d) {
			return ReasonMissingDrivers
		}
	}
	for _, c := range g.constraints {
		if !s.checkConstraint(c, n) {
			return constraintString(c)
		}
	}
	return ""
}

func filter(m *structs.AllocMetric, reason string) {
	m.NodesFiltered++
	if m.ConstraintFiltered == nil {
		m.ConstraintFiltered = map[string]int{}
	}
	m.ConstraintFiltered[reason]++
}

// staticOK reports whether node i passes g's drivers and constraints,
// without recording metrics.
func (s *sched) staticOK(g *groupCtx, i int) bool {
	if g.feas[i] == 0 {
		g.feas[i] = feasOK
		if r := s.staticReason(g, s.nodes[i]); r != "" {
			g.feas[i], g.reason[i] = feasNo, r
		}
	}
	return g.feas[i] == feasOK
}
