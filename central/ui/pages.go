package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func (u *UI) servers(*http.Request, Reader) (any, error) {
	ms := u.b.Members()
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return ms, nil
}

type clientRow struct {
	Node          *structs.Node
	LastHeartbeat time.Time
	Board         string
	Allocs        int
}

type datacenter struct {
	Name    string
	Clients []clientRow // of this page
	Counts  map[string]int
	Total   int // nodes in the datacenter, on every page
}

// clientsPerPage bounds the client list: a fleet of 10,000 nodes is 40
// pages.
const clientsPerPage = 250

// clientsPage is one page of clients, sorted by datacenter and name.
type clientsPage struct {
	DCs              []*datacenter
	Total            int
	Page, Pages      int // 1-based
	First, Last      int // 1-based positions of this page's clients
	HasPrev, HasNext bool
}

// clients lists the nodes, clientsPerPage at a time (?page=N), grouped by
// datacenter, with each datacenter's counts over all its nodes; it counts
// on each listed node the live allocations the token may read.
func (u *UI) clients(r *http.Request, st Reader) (any, error) {
	p := clientsPage{Page: 1}
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, badParam("page %q: want a page number from 1", v)
		}
		p.Page = n
	}
	nodes := slices.Clone(st.Nodes())
	slices.SortFunc(nodes, func(a, b *structs.Node) int {
		return cmp.Or(cmp.Compare(a.Datacenter, b.Datacenter), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	p.Total = len(nodes)
	p.Pages = max(1, (len(nodes)+clientsPerPage-1)/clientsPerPage)
	if p.Page > p.Pages {
		return nil, badParam("page %d: there are %d pages of %d clients", p.Page, p.Pages, clientsPerPage)
	}
	from, to := (p.Page-1)*clientsPerPage, min(p.Page*clientsPerPage, len(nodes))
	p.First, p.Last, p.HasPrev, p.HasNext = from+1, to, p.Page > 1, p.Page < p.Pages
	byDC := map[string]*datacenter{}
	for i, n := range nodes {
		dc := byDC[n.Datacenter]
		if dc == nil {
			dc = &datacenter{Name: n.Datacenter, Counts: map[string]int{}}
			byDC[n.Datacenter] = dc
		}
		dc.Counts[n.Status]++
		dc.Total++
		if i < from || i >= to {
			continue
		}
		if len(dc.Clients) == 0 {
			p.DCs = append(p.DCs, dc) // nodes are sorted by datacenter
		}
		live := 0
		for _, a := range st.AllocsByNode(n.ID) {
			if !a.Terminal() {
				live++
			}
		}
		dc.Clients = append(dc.Clients, clientRow{Node: n, LastHeartbeat: u.b.LastHeartbeat(n.ID), Board: n.Attributes["board.model"], Allocs: live})
	}
	return p, nil
}

// clientPage is one node in full: what it reported at registration, its
// health, and the allocations on it the token may read.
type clientPage struct {
	Node          *structs.Node
	LastHeartbeat time.Time
	Attributes    []kv
	Meta          []kv
	Allocs        []*structs.Allocation // newest first
	Actions       []action
	// Stats is its latest device metrics and last hour's charts; nil
	// when this server has none (no heartbeat yet, or a follower).
	Stats *nodeCharts
}

type kv struct{ Key, Value string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// client finds the node by full ID or unique prefix.
func (u *UI) client(r *http.Request, st Reader) (any, error) {
	id := r.PathValue("id")
	n := st.NodeByID(id)
	if n == nil {
		var ms []*structs.Node
		for _, c := range st.Nodes() {
			if strings.HasPrefix(c.ID, id) {
				ms = append(ms, c)
			}
		}
		switch len(ms) {
		case 0:
			return nil, fmt.Errorf("%w: client %q", ErrNotFound, id)
		case 1:
			n = ms[0]
		default:
			return nil, fmt.Errorf("%w: client prefix %q matches %d clients; give more characters", ErrNotFound, id, len(ms))
		}
	}
	as := slices.Clone(st.AllocsByNode(n.ID))
	slices.SortFunc(as, func(a, b *structs.Allocation) int { return cmp.Compare(b.CreateTime, a.CreateTime) })
	p := clientPage{Node: n, LastHeartbeat: u.b.LastHeartbeat(n.ID), Attributes: sortedKV(n.Attributes), Meta: sortedKV(n.Meta), Allocs: as,
		Actions: nodeActions(st, n)}
	if latest, ok := u.b.LatestStats(n.ID); ok {
		c := u.charts(n, latest, time.Now())
		p.Stats = &c
	}
	return p, nil
}

type jobRow struct {
	Job    *jobspec.Job
	Counts map[string]int // client status → live allocs
	Status string
}

func (u *UI) jobs(_ *http.Request, st Reader) (any, error) {
	var out []jobRow
	for _, j := range st.Jobs("") {
		row := jobRow{Job: j, Counts: map[string]int{}, Status: j.Status} // as the API reports it (Reader)
		for _, a := range st.AllocsByJob(j.Namespace, j.ID) {
			if a.DesiredStatus == "run" || !a.Terminal() {
				row.Counts[a.ClientStatus]++
			}
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b jobRow) int {
		return cmp.Or(cmp.Compare(a.Job.Namespace, b.Job.Namespace), cmp.Compare(a.Job.ID, b.Job.ID))
	})
	return out, nil
}

type jobPage struct {
	Job        *jobspec.Job
	Definition string // {"job": ...} as `central job inspect` prints it
	Summary    []groupSummary
	// Failures are the latest evaluation's task groups it could not place.
	Failures   []placementFailure
	LatestEval *structs.Evaluation
	Allocs     []*structs.Allocation
	Deployment *structs.Deployment // the active one, else the newest; nil: none
	Groups     []deployGroup
	Versions   []*jobspec.Job // newest first
	Actions    []action       // stop or start
	// DeployActions are the deployment's promote and fail buttons.
	DeployActions []action
}

// groupSummary counts a task group's allocations by client status, as
// GET /v1/job/<id>/summary does; Queued is what the latest evaluation
// could not place yet.
type groupSummary struct {
	Name string
	structs.TaskGroupSummary
}

// placementFailure is why the scheduler could not place a task group.
type placementFailure struct {
	Group   string
	Count   int // allocations not placed
	Reasons []string
}

// summarize is the task-group summary of j from its allocations and its
// latest evaluation, sorted by group name.
func summarize(j *jobspec.Job, allocs []*structs.Allocation, latest *structs.Evaluation) []groupSummary {
	by := structs.SummarizeGroups(j, allocs, latest)
	out := make([]groupSummary, 0, len(by))
	for name, g := range by {
		out = append(out, groupSummary{Name: name, TaskGroupSummary: *g})
	}
	slices.SortFunc(out, func(a, b groupSummary) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// deployGroup is one task group's row of the deployment table.
type deployGroup struct {
	Name  string
	State *structs.DeploymentState
}

// latestDeployment returns the active deployment of ds, else the newest.
func latestDeployment(ds []*structs.Deployment) *structs.Deployment {
	var best *structs.Deployment
	for _, d := range ds {
		switch {
		case best == nil:
			best = d
		case d.Active() != best.Active():
			if d.Active() {
				best = d
			}
		case d.CreateIndex > best.CreateIndex:
			best = d
		}
	}
	return best
}

func (u *UI) job(r *http.Request, st Reader) (any, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = "default"
	}
	id := r.PathValue("id")
	j := st.JobByID(ns, id)
	if j == nil {
		return nil, fmt.Errorf("%w: job %q in namespace %q", ErrNotFound, id, ns)
	}
	as := slices.Clone(st.AllocsByJob(ns, id))
	slices.SortFunc(as, func(a, b *structs.Allocation) int { return cmp.Compare(b.CreateTime, a.CreateTime) })
	p := jobPage{Job: j, Allocs: as, Deployment: latestDeployment(st.DeploymentsByJob(ns, id))}
	def, err := json.MarshalIndent(struct {
		Job *jobspec.Job `json:"job"`
	}{j}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding job %q: %w", id, err)
	}
	p.Definition = string(def)
	for _, e := range st.EvalsByJob(ns, id) {
		if p.LatestEval == nil || e.CreateIndex > p.LatestEval.CreateIndex {
			p.LatestEval = e
		}
	}
	p.Summary = summarize(j, as, p.LatestEval)
	if p.LatestEval != nil {
		for g, m := range p.LatestEval.FailedTGAllocs {
			if m == nil {
				m = &structs.AllocMetric{}
			}
			n := p.LatestEval.QueuedAllocations[g]
			if n == 0 {
				n = m.CoalescedFailures + 1
			}
			p.Failures = append(p.Failures, placementFailure{Group: g, Count: n, Reasons: m.Reasons()})
		}
		slices.SortFunc(p.Failures, func(a, b placementFailure) int { return cmp.Compare(a.Group, b.Group) })
	}
	if p.Deployment != nil {
		for name, s := range p.Deployment.TaskGroups {
			p.Groups = append(p.Groups, deployGroup{Name: name, State: s})
		}
		slices.SortFunc(p.Groups, func(a, b deployGroup) int { return cmp.Compare(a.Name, b.Name) })
	}
	p.Versions = slices.Clone(st.JobVersions(ns, id))
	slices.SortFunc(p.Versions, func(a, b *jobspec.Job) int { return cmp.Compare(b.Version, a.Version) })
	p.Actions = jobActions(st, j, p.Versions)
	p.DeployActions = deploymentActions(st, p.Deployment)
	return p, nil
}

type timelineEntry struct {
	Time    int64
	Source  string // "central" or the task's name
	Type    string
	Message string
}

type taskRow struct {
	Name  string
	State *structs.TaskState
}

type allocPage struct {
	Alloc    *structs.Allocation
	Tasks    []taskRow
	Timeline []timelineEntry
	Actions  []action
}

// findAlloc finds the allocation by full ID or unique prefix among those
// the token may read.
func findAlloc(st Reader, id string) (*structs.Allocation, error) {
	if a := st.AllocByID(id); a != nil {
		return a, nil
	}
	switch ms := st.AllocsByIDPrefix(id); len(ms) {
	case 0:
		return nil, fmt.Errorf("%w: allocation %q", ErrNotFound, id)
	case 1:
		return ms[0], nil
	default:
		return nil, fmt.Errorf("%w: allocation prefix %q matches %d allocations; give more characters", ErrNotFound, id, len(ms))
	}
}

func (u *UI) alloc(r *http.Request, st Reader) (any, error) {
	a, err := findAlloc(st, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	p := allocPage{Alloc: a, Actions: allocActions(st, a)}
	for _, e := range a.Events {
		p.Timeline = append(p.Timeline, timelineEntry{Time: e.Time, Source: "central", Type: e.Type, Message: e.Message})
	}
	for name, ts := range a.TaskStates {
		p.Tasks = append(p.Tasks, taskRow{Name: name, State: ts})
		if ts == nil {
			continue
		}
		for _, e := range ts.Events {
			msg := e.Message
			if e.ExitCode != 0 {
				msg = fmt.Sprintf("%s (exit code %d)", msg, e.ExitCode)
			}
			p.Timeline = append(p.Timeline, timelineEntry{Time: e.Time, Source: name, Type: e.Type, Message: msg})
		}
	}
	slices.SortFunc(p.Tasks, func(a, b taskRow) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(p.Timeline, func(a, b timelineEntry) int { return cmp.Compare(a.Time, b.Time) })
	return p, nil
}

// logsPage shows one task's stdout or stderr; the page's script streams
// it from GET /v1/client/fs/logs (which checks read-logs itself).
type logsPage struct {
	Alloc  *structs.Allocation
	Tasks  []string
	Task   string
	Type   string // stdout or stderr
	Follow bool
	Src    string // the log endpoint's URL
}

// allocLogs: ?task= (needed when the group has several), ?type=stdout or
// stderr, ?follow=false to read what is there and stop.
func (u *UI) allocLogs(r *http.Request, st Reader) (any, error) {
	a, err := findAlloc(st, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	p := logsPage{Alloc: a, Type: "stdout", Follow: true}
	if a.Job != nil {
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			for _, t := range tg.Tasks {
				p.Tasks = append(p.Tasks, t.Name)
			}
		}
	}
	if len(p.Tasks) == 0 {
		p.Tasks = slices.Sorted(maps.Keys(a.TaskStates))
	}
	q := r.URL.Query()
	switch t := q.Get("type"); t {
	case "", "stdout":
	case "stderr":
		p.Type = t
	default:
		return nil, fmt.Errorf("%w: log type %q (want stdout or stderr)", ErrNotFound, t)
	}
	if q.Get("follow") == "false" {
		p.Follow = false
	}
	p.Task = q.Get("task")
	switch {
	case p.Task == "" && len(p.Tasks) > 0:
		p.Task = p.Tasks[0]
	case p.Task != "" && !slices.Contains(p.Tasks, p.Task):
		return nil, fmt.Errorf("%w: allocation %s has no task %q (tasks: %s)", ErrNotFound, short(a.ID), p.Task, strings.Join(p.Tasks, ", "))
	}
	v := url.Values{"task": {p.Task}, "type": {p.Type}, "tail": {"true"}, "lines": {"200"}, "follow": {strconv.FormatBool(p.Follow)}}
	p.Src = "/v1/client/fs/logs/" + url.PathEscape(a.ID) + "?" + v.Encode()
	return p, nil
}

type serviceGroup struct {
	Name      string
	Instances []*structs.ServiceRegistration
	Healthy   int
}

func (u *UI) services(_ *http.Request, st Reader) (any, error) {
	var out []*serviceGroup
	by := map[string]*serviceGroup{}
	for _, r := range st.Services("") {
		g := by[r.ServiceName]
		if g == nil {
			g = &serviceGroup{Name: r.ServiceName}
			by[r.ServiceName] = g
			out = append(out, g)
		}
		g.Instances = append(g.Instances, r)
		if r.Healthy {
			g.Healthy++
		}
	}
	slices.SortFunc(out, func(a, b *serviceGroup) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
