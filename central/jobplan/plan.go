package jobplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// ErrNoJob is returned for a nil job or state.
var ErrNoJob = errors.New("jobplan: nil job or state")

// State is the read-only view a plan needs: the scheduler's, plus a job's
// kept versions (a new job's version follows the newest one a purge left)
// and one node by ID (for names). central's state snapshot implements it;
// a State that also implements scheduler.DeploymentReader gets its
// rollouts planned as the leader would.
type State interface {
	scheduler.State
	JobVersions(namespace, id string) []*jobspec.Job
	NodeByID(id string) *structs.Node
}

// Options carry what is not a function of the state: the clock and IDs,
// as for scheduler.Compute.
type Options struct {
	NewID func() string
	Now   int64 // unix ns
}

// Actions of a PlannedAlloc.
const (
	ActionPlace       = "place"
	ActionStop        = "stop"
	ActionMigrate     = "migrate"
	ActionInPlace     = "in_place_update"
	ActionDestructive = "destructive_update"
	ActionCanary      = "canary"
)

// Result is a dry run's answer: what submitting the job would do now.
type Result struct {
	// JobModifyIndex is the running version's (0: no such job); `job
	// run -check-index` with it refuses the submission if the job
	// changed since.
	JobModifyIndex uint64       `json:"job_modify_index"`
	Annotations    *Annotations `json:"annotations"`
	// Allocations lists each change, by group and allocation name.
	Allocations       []*PlannedAlloc                 `json:"allocations,omitempty"`
	FailedTGAllocs    map[string]*structs.AllocMetric `json:"failed_tg_allocs,omitempty"`
	QueuedAllocations map[string]int                  `json:"queued_allocations,omitempty"`
	Diff              *Diff                           `json:"diff,omitempty"`
	// Warnings: one per line (the parser's, unresolvable service
	// addresses, a parent job's).
	Warnings string `json:"warnings"`
}

// Annotations say, per task group, how many allocations each kind of
// change touches (Nomad's desired_tg_updates).
type Annotations struct {
	DesiredTGUpdates map[string]*GroupUpdates `json:"desired_tg_updates"`
}

// GroupUpdates counts a group's allocations by what the plan does with
// them. Ignore counts the ones it leaves running as they are.
type GroupUpdates struct {
	Ignore            int `json:"ignore"`
	Place             int `json:"place"`
	Migrate           int `json:"migrate"`
	Stop              int `json:"stop"`
	InPlaceUpdate     int `json:"in_place_update"`
	DestructiveUpdate int `json:"destructive_update"`
	Canary            int `json:"canary"`
}

// Changes reports whether the plan creates or destroys any of the
// group's allocations (an in-place update does neither).
func (g *GroupUpdates) Changes() bool {
	return g.Place+g.Migrate+g.Stop+g.DestructiveUpdate+g.Canary > 0
}

// PlannedAlloc is one allocation the plan changes.
type PlannedAlloc struct {
	Group  string `json:"group"`
	Name   string `json:"name"`   // job.group[index]
	Action string `json:"action"` // place | stop | migrate | in_place_update | destructive_update | canary
	// AllocID is the existing allocation stopped or updated ("" for a new one).
	AllocID  string `json:"alloc_id,omitempty"`
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
	// FromNodeName is where the allocation a destructive update or a
	// migration replaces runs.
	FromNodeName string `json:"from_node_name,omitempty"`
	Description  string `json:"description,omitempty"` // why it stops
}

// Changes is `job plan`'s exit code rule, Nomad's: false (exit 0) when
// the job is unchanged (whatever the scheduler would redo for it) or only
// in-place updates follow; true (exit 1) when an allocation would be
// created or destroyed, or could not be placed. A Result without its diff
// (?diff=false) is judged by its allocations alone.
func (r *Result) Changes() bool {
	if r.Diff != nil && r.Diff.Type == DiffNone {
		return false
	}
	if len(r.FailedTGAllocs) > 0 {
		return true
	}
	for _, g := range r.Annotations.DesiredTGUpdates {
		if g.Changes() {
			return true
		}
	}
	return false
}

// overlay is the state with the candidate job in place of the running one.
type overlay struct {
	State
	job *jobspec.Job
}

func (o overlay) JobByID(ns, id string) *jobspec.Job {
	if ns == o.job.Namespace && id == o.job.ID {
		return o.job
	}
	return o.State.JobByID(ns, id)
}

func (o overlay) LatestDeploymentByJob(ns, id string) *structs.Deployment {
	if dr, ok := o.State.(scheduler.DeploymentReader); ok {
		return dr.LatestDeploymentByJob(ns, id)
	}
	return nil
}

// Compute runs the scheduler over st as if job had just been submitted,
// and describes the plan it makes. It writes nothing: st is only read.
// job must be parsed and validated, as for a submission.
func Compute(st State, job *jobspec.Job, opts Options) (*Result, error) {
	if st == nil || job == nil {
		return nil, ErrNoJob
	}
	if opts.NewID == nil {
		opts.NewID = structs.GenerateID
	}
	ns := job.Namespace
	if ns == "" {
		ns = "default"
	}
	cur := st.JobByID(ns, job.ID)
	cand := candidate(st, cur, job, ns)
	res := &Result{Annotations: &Annotations{DesiredTGUpdates: map[string]*GroupUpdates{}}}
	if cur != nil {
		res.JobModifyIndex = cur.JobModifyIndex
	}
	res.Diff = JobDiff(cur, cand)
	eval := &structs.Evaluation{ID: opts.NewID(), Namespace: ns, Priority: cand.Priority, Type: cand.Type,
		TriggeredBy: structs.TriggerJobRegister, JobID: cand.ID, Status: structs.EvalPending, CreateTime: opts.Now, ModifyTime: opts.Now}
	plan, err := scheduler.Compute(overlay{State: st, job: cand}, eval, scheduler.Options{NewID: opts.NewID, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	res.FailedTGAllocs, res.QueuedAllocations = plan.Failed, plan.Queued
	placed := describe(res, st, cand, plan)
	annotateTasks(res)
	var warnings []string
	if cand.IsParent() {
		warnings = append(warnings, fmt.Sprintf("job %q is periodic or parameterized: it places nothing itself, and each launch or dispatch is scheduled when it happens", cand.ID))
	}
	nodes := st.Nodes()
	warnings = append(warnings, AddressWarnings(cand, nodes)...)
	warnings = append(warnings, placedWarnings(cand, nodes, placed)...) // address.go
	res.Warnings = strings.Join(warnings, "\n")
	return res, nil
}

// candidate is the job as the state would store it: the running version
// itself when the spec is unchanged (as a submission of it changes
// nothing), else the next version.
func candidate(st State, cur, job *jobspec.Job, ns string) *jobspec.Job {
	c := *job
	c.Namespace = ns
	c.Stop = false
	if cur != nil && sameSpec(cur, &c) {
		return cur
	}
	c.Status, c.Stable, c.SubmitTime = jobspec.JobStatusPending, false, 0
	c.ModifyIndex, c.JobModifyIndex = 0, 0
	switch {
	case cur != nil:
		c.Version, c.CreateIndex = cur.Version+1, cur.CreateIndex
	default:
		c.Version, c.CreateIndex = 0, 0
		for _, v := range st.JobVersions(ns, job.ID) {
			c.Version = max(c.Version, v.Version+1)
		}
	}
	return &c
}

// sameSpec reports whether two jobs have the same spec (the job minus the
// fields central sets), as the state store decides whether a submission
// is a new version.
func sameSpec(a, b *jobspec.Job) bool {
	spec := func(j *jobspec.Job) []byte {
		c := *j
		c.Version, c.Status, c.SubmitTime, c.Stable = 0, "", 0, false
		c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
		b, err := json.Marshal(&c)
		if err != nil {
			return nil
		}
		return b
	}
	x, y := spec(a), spec(b)
	return x != nil && y != nil && string(x) == string(y)
}

// describe sorts the plan's allocations into Nomad's kinds of change. It
// returns, per group, the nodes the group's allocations run on once the
// plan is applied.
func describe(res *Result, st State, job *jobspec.Job, plan *structs.Plan) map[string][]*structs.Node {
	group := func(name string) *GroupUpdates {
		g := res.Annotations.DesiredTGUpdates[name]
		if g == nil {
			g = &GroupUpdates{}
			res.Annotations.DesiredTGUpdates[name] = g
		}
		return g
	}
	for _, tg := range job.TaskGroups {
		group(tg.Name)
	}
	existing := map[string]*structs.Allocation{}
	for _, a := range st.AllocsByJob(job.Namespace, job.ID) {
		existing[a.ID] = a
	}
	names := map[string]string{}
	nodeName := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := ""
		if node := st.NodeByID(id); node != nil {
			n = node.Name
		}
		names[id] = n
		return n
	}
	stopped := map[string]*structs.Allocation{}
	for _, a := range plan.Stop {
		stopped[a.ID] = a
	}
	touched := map[string]bool{}
	replaced := map[string]bool{} // stops a new alloc accounts for
	for _, a := range plan.Place {
		touched[a.ID] = true
		pa := &PlannedAlloc{Group: a.TaskGroup, Name: a.Name, NodeID: a.NodeID, NodeName: nodeName(a.NodeID)}
		g := group(a.TaskGroup)
		if old := existing[a.ID]; old != nil {
			if old.JobVersion == a.JobVersion {
				continue // an event only (Reconnected): nothing changes
			}
			pa.Action, pa.AllocID = ActionInPlace, a.ID
			g.InPlaceUpdate++
			res.Allocations = append(res.Allocations, pa)
			continue
		}
		prev := stopped[a.PreviousAllocation]
		switch {
		case a.DeploymentStatus != nil && a.DeploymentStatus.Canary:
			pa.Action = ActionCanary
			g.Canary++
		case prev != nil && prev.DesiredDescription == scheduler.DescUpdating:
			pa.Action, pa.AllocID, pa.FromNodeName = ActionDestructive, prev.ID, nodeName(prev.NodeID)
			replaced[prev.ID] = true
			g.DestructiveUpdate++
		case prev != nil && prev.DesiredDescription == scheduler.DescMigrating:
			pa.Action, pa.AllocID, pa.FromNodeName = ActionMigrate, prev.ID, nodeName(prev.NodeID)
			replaced[prev.ID] = true
			g.Migrate++
		default:
			pa.Action = ActionPlace
			g.Place++
		}
		res.Allocations = append(res.Allocations, pa)
	}
	for _, a := range plan.Stop {
		touched[a.ID] = true
		if replaced[a.ID] {
			continue
		}
		group(a.TaskGroup).Stop++
		res.Allocations = append(res.Allocations, &PlannedAlloc{Group: a.TaskGroup, Name: a.Name, Action: ActionStop, AllocID: a.ID,
			NodeID: a.NodeID, NodeName: nodeName(a.NodeID), Description: a.DesiredDescription})
	}
	for _, a := range plan.Unknown {
		touched[a.ID] = true
	}
	placed := map[string][]*structs.Node{}
	onNode := map[string]bool{} // group + node ID
	runsOn := func(group, nodeID string) {
		if onNode[group+"\x00"+nodeID] {
			return
		}
		onNode[group+"\x00"+nodeID] = true
		if n := st.NodeByID(nodeID); n != nil {
			placed[group] = append(placed[group], n)
		}
	}
	for _, a := range plan.Place {
		runsOn(a.TaskGroup, a.NodeID)
	}
	for _, a := range existing {
		if !touched[a.ID] && a.DesiredStatus != protocol.DesiredStop && !a.Terminal() {
			group(a.TaskGroup).Ignore++
			runsOn(a.TaskGroup, a.NodeID)
		}
	}
	slices.SortStableFunc(res.Allocations, func(a, b *PlannedAlloc) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return placed
}

// annotateTasks marks, in the diff, the edited tasks of groups whose
// allocations the plan replaces or updates where they run.
func annotateTasks(res *Result) {
	if res.Diff == nil {
		return
	}
	for _, g := range res.Diff.TaskGroups {
		u := res.Annotations.DesiredTGUpdates[g.Name]
		if u == nil {
			continue
		}
		note := "forces in-place update"
		if u.DestructiveUpdate+u.Canary > 0 {
			note = "forces create/destroy update"
		}
		for _, t := range g.Tasks {
			switch t.Type {
			case DiffEdited:
				t.Annotations = append(t.Annotations, note)
			case DiffAdded:
				t.Annotations = append(t.Annotations, "forces create")
			case DiffDeleted:
				t.Annotations = append(t.Annotations, "forces destroy")
			}
		}
	}
}
