package ui

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
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
	Clients []clientRow
	Counts  map[string]int
}

// clients counts on each node the live allocations the token may read.
func (u *UI) clients(_ *http.Request, st Reader) (any, error) {
	byDC := map[string]*datacenter{}
	for _, n := range st.Nodes() {
		dc := byDC[n.Datacenter]
		if dc == nil {
			dc = &datacenter{Name: n.Datacenter, Counts: map[string]int{}}
			byDC[n.Datacenter] = dc
		}
		dc.Counts[n.Status]++
		live := 0
		for _, a := range st.AllocsByNode(n.ID) {
			if !a.Terminal() {
				live++
			}
		}
		dc.Clients = append(dc.Clients, clientRow{Node: n, LastHeartbeat: u.b.LastHeartbeat(n.ID), Board: n.Attributes["board.model"], Allocs: live})
	}
	var out []*datacenter
	for _, dc := range byDC {
		slices.SortFunc(dc.Clients, func(a, b clientRow) int { return cmp.Compare(a.Node.Name, b.Node.Name) })
		out = append(out, dc)
	}
	slices.SortFunc(out, func(a, b *datacenter) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

type jobRow struct {
	Job    *jobspec.Job
	Counts map[string]int // client status → live allocs
	Status string
}

func (u *UI) jobs(_ *http.Request, st Reader) (any, error) {
	var out []jobRow
	for _, j := range st.Jobs("") {
		row := jobRow{Job: j, Counts: map[string]int{}, Status: "running"}
		if j.Stop {
			row.Status = "dead"
		}
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
	Allocs     []*structs.Allocation
	Deployment *structs.Deployment // the active one, else the newest; nil: none
	Groups     []deployGroup
	Versions   []*jobspec.Job // newest first
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
	if p.Deployment != nil {
		for name, s := range p.Deployment.TaskGroups {
			p.Groups = append(p.Groups, deployGroup{Name: name, State: s})
		}
		slices.SortFunc(p.Groups, func(a, b deployGroup) int { return cmp.Compare(a.Name, b.Name) })
	}
	p.Versions = slices.Clone(st.JobVersions(ns, id))
	slices.SortFunc(p.Versions, func(a, b *jobspec.Job) int { return cmp.Compare(b.Version, a.Version) })
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
}

// alloc finds the allocation by full ID or unique prefix among those the
// token may read.
func (u *UI) alloc(r *http.Request, st Reader) (any, error) {
	id := r.PathValue("id")
	a := st.AllocByID(id)
	if a == nil {
		switch ms := st.AllocsByIDPrefix(id); len(ms) {
		case 0:
			return nil, fmt.Errorf("%w: allocation %q", ErrNotFound, id)
		case 1:
			a = ms[0]
		default:
			return nil, fmt.Errorf("%w: allocation prefix %q matches %d allocations; give more characters", ErrNotFound, id, len(ms))
		}
	}
	p := allocPage{Alloc: a}
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
