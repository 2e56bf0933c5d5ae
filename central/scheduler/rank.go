package scheduler

import (
	"math"
	"strconv"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Ranking constants, as Nomad's.
const (
	binPackMaxFit      = 18.0 // ScoreFitBinPack of a perfectly filled node
	maxSkip            = 3    // low-scoring nodes the limit may skip per placement
	skipScoreThreshold = 0.0  // scores at or below this are skipped first
)

// Dimensions recorded in AllocMetric.DimensionExhausted.
const (
	DimCPU         = "cpu"
	DimMemory      = "memory"
	DimCores       = "cores"
	DimDynamicPort = "dynamic port"
	// a static port collision is recorded as "port <n>"
)

// candidateLimit is how many feasible nodes one generic placement ranks.
func candidateLimit(jobType string, n, override int) int {
	if override > 0 {
		return override
	}
	limit := 2
	if jobType != jobspec.JobTypeBatch && n > 0 {
		if l := int(math.Ceil(math.Log2(float64(n)))); l > limit {
			limit = l
		}
	}
	return limit
}

// selectNode picks the node for one placement of g among the candidates.
// Like Nomad's stack it walks the shuffled candidates from where the last
// placement stopped, ranks the first s.limit feasible nodes that fit
// (skipping up to maxSkip nodes that score <= 0 while better ones may
// follow) and returns the best; ties go to the lower node ID.
func (s *sched) selectNode(g *groupCtx, m *structs.AllocMetric) (best int, score float64, ok bool) {
	n := len(s.candidates)
	best = -1
	var skipped []int
	var skippedScore []float64
	seen := 0
	consider := func(i int, sc float64) {
		seen++
		if best < 0 || sc > score || (sc == score && i < best) {
			best, score = i, sc
		}
	}
	for visited := 0; visited < n && seen < s.limit; visited++ {
		i := s.candidates[s.offset]
		s.offset++
		if s.offset == n {
			s.offset = 0
		}
		m.NodesEvaluated++
		if !s.feasible(g, i, m) {
			continue
		}
		sc, fits := s.fit(g, i, m)
		if !fits {
			continue
		}
		if sc <= skipScoreThreshold && len(skipped) < maxSkip {
			skipped = append(skipped, i)
			skippedScore = append(skippedScore, sc)
			continue
		}
		consider(i, sc)
	}
	for k := 0; k < len(skipped) && seen < s.limit; k++ {
		consider(skipped[k], skippedScore[k])
	}
	return best, score, best >= 0
}

// fit checks that g's resources and ports fit on node i and returns the
// node's normalised score for it (see scoreNode), recording exhaustion in m.
func (s *sched) fit(g *groupCtx, i int, m *structs.AllocMetric) (float64, bool) {
	n := s.nodes[i]
	u := s.usageOf(i)
	util := u.res.Add(g.need)
	offered := n.Offered() // its resources less its reserved block
	switch {
	case util.CPU > offered.CPU:
		return 0, exhaust(m, DimCPU)
	case util.MemoryMB > offered.MemoryMB:
		return 0, exhaust(m, DimMemory)
	case g.need.Cores > 0 && util.Cores > offered.Cores:
		return 0, exhaust(m, DimCores)
	}
	if dim := s.budgetExhausted(g, i, u); dim != "" {
		return 0, exhaust(m, dim)
	}
	for k, p := range g.static {
		if u.used(p) || containsBefore(g.static, k, p) {
			return 0, exhaust(m, "port "+strconv.Itoa(p))
		}
	}
	if g.dynamic > 0 && s.dynamicFree(u, g) < g.dynamic {
		return 0, exhaust(m, DimDynamicPort)
	}
	score := scoreNode(offered, util, int(g.count[i]), g.tg.Count)
	if s.penalty[i] {
		score = penalise(score, int(g.count[i]))
	}
	return score, true
}

func containsBefore(xs []int, k, v int) bool {
	for _, x := range xs[:k] {
		if x == v {
			return true
		}
	}
	return false
}

func exhaust(m *structs.AllocMetric, dim string) bool {
	m.NodesExhausted++
	if m.DimensionExhausted == nil {
		m.DimensionExhausted = map[string]int{}
	}
	m.DimensionExhausted[dim]++
	return false
}

// scoreNode is the final, normalised score of a node that would use util
// out of capacity and already runs collisions allocs of the same group:
// Nomad's bin-packing fit (0..18) divided by 18, averaged with the job
// anti-affinity penalty -(collisions+1)/count when there are collisions.
func scoreNode(capacity, util structs.Resources, collisions, count int) float64 {
	score := ScoreFitBinPack(capacity, util) / binPackMaxFit
	if collisions > 0 {
		penalty := -float64(collisions+1) / float64(max(count, 1))
		score = (score + penalty) / 2
	}
	return score
}

// penalise adds the reschedule penalty (-1) to a node's score: the
// average of its scores (bin-packing, anti-affinity when collisions > 0)
// with one more, as Nomad's normalisation of a rescheduled allocation's
// previous nodes.
func penalise(score float64, collisions int) float64 {
	n := 1.0
	if collisions > 0 {
		n = 2
	}
	return (score*n - 1) / (n + 1)
}

// ScoreFitBinPack is Nomad's bin-packing fitness: 20 - (10^freeCPU +
// 10^freeMem), where free* is the fraction left after util, bounded to
// 0..18. Fuller nodes score higher.
func ScoreFitBinPack(capacity, util structs.Resources) float64 {
	// 10^x computed as e^(x ln 10): same value, a third of math.Pow's cost.
	total := math.Exp(freeFrac(capacity.CPU, util.CPU)*math.Ln10) + math.Exp(freeFrac(capacity.MemoryMB, util.MemoryMB)*math.Ln10)
	score := 20.0 - total
	return min(max(score, 0), binPackMaxFit)
}

func freeFrac(capacity, used int) float64 {
	if capacity <= 0 {
		return 0
	}
	return 1 - float64(used)/float64(capacity)
}
