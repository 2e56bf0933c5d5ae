package scheduler

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Sentinel errors. Everything Compute returns wraps one of these.
var (
	ErrNilState       = errors.New("scheduler: state is nil")
	ErrNilEval        = errors.New("scheduler: evaluation is nil")
	ErrNoIDFunc       = errors.New("scheduler: Options.NewID is nil; pass a function that returns unique allocation ids")
	ErrBadPortRange   = errors.New("scheduler: bad dynamic port range")
	ErrUnknownJobType = errors.New("scheduler: unknown job type")
	ErrBadJob         = errors.New("scheduler: job cannot be scheduled")
)

// Default dynamic port range, as Nomad's.
const (
	DefaultPortMin = 20000
	DefaultPortMax = 32000
)

// Desired descriptions written on stopped allocations.
const (
	DescNotNeeded      = "alloc not needed due to job update"
	DescJobStopped     = "job stopped"
	DescUpdating       = "alloc is being updated due to job update"
	DescLost           = "alloc is lost since its node is down"
	DescNodeInfeasible = "alloc not needed as node is no longer eligible"
	DescMigrating      = "alloc is being migrated"
)

// EventLost is the AllocEvent type recorded when an alloc is marked lost.
const EventLost = "Lost"

// State is the read-only view the scheduler needs; central's state
// snapshot implements it. Returned values must not be modified.
type State interface {
	JobByID(namespace, id string) *jobspec.Job                 // nil if unknown (deregistered/purged)
	Nodes() []*structs.Node                                    // all nodes, any status
	AllocsByJob(namespace, jobID string) []*structs.Allocation // all versions, all statuses
	AllocsByNode(nodeID string) []*structs.Allocation
}

// Options carry everything non-deterministic the scheduler needs, so that
// Compute itself is a pure function of its arguments.
type Options struct {
	NewID func() string // allocation ids
	Now   int64         // unix ns, stamped on created/modified allocs
	// PortMin, PortMax bound the dynamic port range (inclusive). Zero means
	// the default 20000-32000.
	PortMin, PortMax int
	// CandidateLimit is how many feasible nodes are ranked per placement of
	// a service or batch job. Zero means Nomad's default: max(2,
	// ceil(log2(ready nodes))) for service jobs and 2 for batch jobs.
	CandidateLimit int
	// MaxAllocsPerNode and MaxNodeBytes bound what one node's desired
	// state holds: allocations, and their encoded size. Zero means
	// desired.MaxAllocsPerNode and desired.MaxNodeBytes; tests set them
	// lower. Central never sets them above those.
	MaxAllocsPerNode, MaxNodeBytes int
}

// Compute reconciles the evaluated job's allocations with its spec and
// returns the plan that gets there. It reads st only; it never modifies
// anything it was given.
func Compute(st State, eval *structs.Evaluation, opts Options) (*structs.Plan, error) {
	switch {
	case st == nil:
		return nil, ErrNilState
	case eval == nil:
		return nil, ErrNilEval
	case opts.NewID == nil:
		return nil, ErrNoIDFunc
	}
	if opts.PortMin == 0 && opts.PortMax == 0 {
		opts.PortMin, opts.PortMax = DefaultPortMin, DefaultPortMax
	}
	if opts.MaxAllocsPerNode <= 0 {
		opts.MaxAllocsPerNode = desired.MaxAllocsPerNode
	}
	if opts.MaxNodeBytes <= 0 {
		opts.MaxNodeBytes = desired.MaxNodeBytes
	}
	if opts.PortMin <= 0 || opts.PortMax > 65535 || opts.PortMin > opts.PortMax {
		return nil, fmt.Errorf("%w: %d-%d; use 1 <= PortMin <= PortMax <= 65535", ErrBadPortRange, opts.PortMin, opts.PortMax)
	}

	job := eval.JobID
	s := &sched{
		st:   st,
		eval: eval,
		opts: opts,
		ns:   eval.Namespace,
		plan: &structs.Plan{EvalID: eval.ID},

		stopping: map[string]bool{},
		sizes:    map[sizeKey]int{},
	}
	s.job = st.JobByID(eval.Namespace, job)
	allocs := slices.Clone(st.AllocsByJob(eval.Namespace, job))
	slices.SortFunc(allocs, compareAllocs)

	// A periodic or parameterized parent never runs itself (only its
	// children do): like a stopped job, it places nothing and stops what
	// an earlier, ordinary version of it left running.
	if s.job == nil || s.job.Stop || s.job.IsParent() {
		desc := DescNotNeeded
		if s.job != nil && s.job.Stop {
			desc = DescJobStopped
		}
		for _, a := range allocs {
			if live(a) {
				s.stop(a, desc, "")
			}
		}
		s.cancelStale(s.job) // deployment.go
		return s.plan, nil
	}
	if s.job.Namespace != "" {
		s.ns = s.job.Namespace
	}
	if err := checkJob(s.job); err != nil {
		return nil, err
	}

	s.loadNodes()
	all := allocs
	allocs, ro := s.prepareRollout(all) // deployment.go
	var r *reconcileResult
	switch s.job.Type {
	case jobspec.JobTypeService, jobspec.JobTypeBatch:
		r = reconcileGeneric(s.job, allocs, s.nodeByID, s.nodes, s.opts.Now, eval.ID)
	case jobspec.JobTypeSystem, jobspec.JobTypeSysBatch:
		r = s.reconcileSystem(allocs)
	default:
		return nil, fmt.Errorf("%w: job %q has type %q (known: service, batch, system, sysbatch)", ErrUnknownJobType, s.job.ID, s.job.Type)
	}
	ro.gate(r, all)
	s.apply(r, all)
	ro.stamp(r, all)
	return s.plan, nil
}

// checkJob rejects what input could make the scheduler misbehave.
func checkJob(job *jobspec.Job) error {
	for _, tg := range job.TaskGroups {
		if tg == nil {
			return fmt.Errorf("%w: job %q has a nil task group", ErrBadJob, job.ID)
		}
		if tg.Count < 0 {
			return fmt.Errorf("%w: job %q group %q: count %d is negative; use 0 or more", ErrBadJob, job.ID, tg.Name, tg.Count)
		}
		for _, t := range tg.Tasks {
			if t == nil {
				return fmt.Errorf("%w: job %q group %q has a nil task", ErrBadJob, job.ID, tg.Name)
			}
		}
	}
	return nil
}

// sched is the working state of one Compute call. It is owned by that call.
type sched struct {
	st   State
	eval *structs.Evaluation
	job  *jobspec.Job
	opts Options
	ns   string
	plan *structs.Plan

	nodes      []*structs.Node // all nodes, sorted by ID
	nodeByID   map[string]int  // node ID → index in nodes
	candidates []int           // ready, eligible, undrained nodes in the job's DCs; shuffled
	isCand     []bool          // by node index
	offset     int             // where the next generic placement starts looking
	available  map[string]int  // candidates per datacenter
	limit      int             // candidates ranked per placement

	stopping map[string]bool // alloc IDs this plan stops
	penalty  map[int]bool    // node indices the current reschedule scores lower (reschedule.go)
	usage    []*nodeUsage    // by node index; nil until first needed
	jobCount []int32         // live allocs of the job per node index
	groups   map[string]*groupCtx
	props    []*propSet
	// liveJobAllocs are the job's allocs that stay live after this plan's
	// stops; primed is set once they (and the counts built from them) are
	// known.
	liveJobAllocs []*structs.Allocation
	primed        bool

	sizes map[sizeKey]int // desired-state bytes of one alloc, by job version and group

	regexps  map[string]*regexp.Regexp
	versions map[string]version.Constraints
	semvers  map[string]version.Constraints
	parsed   map[versionKey]*version.Version
}

// loadNodes indexes the nodes and picks the candidates in a deterministic
// order: sorted by ID, then shuffled by a PRNG seeded from the eval ID.
func (s *sched) loadNodes() {
	s.nodes = slices.Clone(s.st.Nodes())
	s.nodes = slices.DeleteFunc(s.nodes, func(n *structs.Node) bool { return n == nil })
	if !slices.IsSortedFunc(s.nodes, compareNodes) {
		slices.SortFunc(s.nodes, compareNodes)
	}
	s.nodeByID = make(map[string]int, len(s.nodes))
	s.isCand = make([]bool, len(s.nodes))
	s.available = map[string]int{}
	dcs := s.job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	for i, n := range s.nodes {
		s.nodeByID[n.ID] = i
		if ready(n) && dcMatch(dcs, n.Datacenter) {
			s.candidates = append(s.candidates, i)
			s.isCand[i] = true
			s.available[n.Datacenter]++
		}
	}
	h := fnv.New64a()
	h.Write([]byte(s.eval.ID))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(s.candidates), func(i, j int) {
		s.candidates[i], s.candidates[j] = s.candidates[j], s.candidates[i]
	})
	s.limit = candidateLimit(s.job.Type, len(s.candidates), s.opts.CandidateLimit)
	s.usage = make([]*nodeUsage, len(s.nodes))
	s.groups = map[string]*groupCtx{}
}

// ready reports whether new work may be placed on n.
func ready(n *structs.Node) bool {
	return n.Status == structs.NodeReady && n.Eligible && !n.Drain
}

// dcMatch reports whether dc matches one of the job's datacenter patterns.
func dcMatch(patterns []string, dc string) bool {
	for _, p := range patterns {
		if glob(p, dc) {
			return true
		}
	}
	return false
}

// DatacenterMatch reports whether datacenter dc matches one of a job's
// datacenter patterns ("*" matches any run of characters), as placement
// decides it.
func DatacenterMatch(patterns []string, dc string) bool { return dcMatch(patterns, dc) }

// glob matches s against p where '*' matches any run of characters, as
// Nomad's datacenter patterns do. No other character is special.
func glob(p, s string) bool {
	if !strings.Contains(p, "*") {
		return p == s
	}
	parts := strings.Split(p, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}

// live reports whether an alloc is still meant to run and not yet over.
func live(a *structs.Allocation) bool {
	return a.DesiredStatus != protocol.DesiredStop && !a.Terminal()
}

func compareNodes(a, b *structs.Node) int { return strings.Compare(a.ID, b.ID) }

// compareAllocs orders allocs by group, index, then ID, so that plans do not
// depend on the order the state store returns them in.
func compareAllocs(a, b *structs.Allocation) int {
	if c := strings.Compare(a.TaskGroup, b.TaskGroup); c != 0 {
		return c
	}
	if a.Index != b.Index {
		return a.Index - b.Index
	}
	return strings.Compare(a.ID, b.ID)
}
