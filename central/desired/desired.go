package desired

import (
	"maps"
	"sort"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Build computes the desired state of one node from its allocations: every
// allocation central wants running there (Included). An allocation left
// out is one the agent must stop.
func Build(nodeID string, dc string, allocs []*structs.Allocation, index uint64, now int64) *protocol.Desired {
	d := &protocol.Desired{V: protocol.Version, NodeID: nodeID, Index: index, Time: now / 1e6, Allocs: []protocol.DesiredAlloc{}}
	for _, a := range allocs {
		if !Included(a) {
			continue
		}
		tg := a.Job.LookupTaskGroup(a.TaskGroup)
		if tg == nil {
			continue
		}
		d.Allocs = append(d.Allocs, Alloc(a, tg, dc))
	}
	sort.Slice(d.Allocs, func(i, j int) bool { return d.Allocs[i].ID < d.Allocs[j].ID })
	return d
}

// AddKept sets d.Kept to the allocations of allocs (the node's, as given
// to Build) that d does not list, for an agent that understands it
// (protocol.AttrKeptAllocs).
func AddKept(d *protocol.Desired, allocs []*structs.Allocation) {
	listed := make(map[string]bool, len(d.Allocs))
	for _, da := range d.Allocs {
		listed[da.ID] = true
	}
	k := &protocol.KeptAllocs{}
	for _, a := range allocs {
		if a == nil || listed[a.ID] {
			continue
		}
		if len(k.IDs) == protocol.MaxKeptAllocs {
			k.IDs, k.Partial = nil, true
			break
		}
		k.IDs = append(k.IDs, a.ID)
	}
	sort.Strings(k.IDs)
	d.Kept = k
}

// Included reports whether a goes into its node's desired state: central
// wants it to run and its client has not finished it. The scheduler counts
// exactly these against a node's budgets.
func Included(a *structs.Allocation) bool {
	if a == nil || a.DesiredStatus != protocol.DesiredRun || a.Job == nil {
		return false
	}
	switch a.ClientStatus {
	case protocol.AllocComplete, protocol.AllocFailed, protocol.AllocLost:
		return false
	}
	return true
}

// Alloc is one allocation as its agent needs it to run it.
func Alloc(a *structs.Allocation, tg *jobspec.TaskGroup, dc string) protocol.DesiredAlloc {
	job := a.Job
	meta := map[string]string{}
	maps.Copy(meta, job.Meta)
	maps.Copy(meta, tg.Meta)
	da := protocol.DesiredAlloc{
		ID:            a.ID,
		JobID:         a.JobID,
		JobVersion:    a.JobVersion,
		TaskGroup:     a.TaskGroup,
		Namespace:     a.Namespace,
		DesiredStatus: a.DesiredStatus,
		Meta:          meta,
		JobType:       job.Type,
		Name:          a.Name,
		Index:         a.Index,
		Datacenter:    dc,
		Region:        job.Region,
		ParentID:      job.ParentID,
	}
	for _, ac := range a.Actions {
		da.Actions = append(da.Actions, protocol.AllocAction{Seq: ac.Seq, Kind: ac.Kind, Task: ac.Task, Signal: ac.Signal})
	}
	if r := tg.Restart; r != nil {
		da.Restart = restartPolicy(r, job.Type)
	}
	if dis := tg.Disconnect; dis != nil && dis.StopOnClientAfter > 0 {
		da.StopAfterMs = dis.StopOnClientAfter.Milliseconds()
	} else if tg.StopAfterClientDisconnect != nil {
		da.StopAfterMs = tg.StopAfterClientDisconnect.Milliseconds()
	}
	da.DeploymentID, da.Health = deploymentHealth(a, tg) // health.go
	for _, p := range a.Ports {
		da.Ports = append(da.Ports, protocol.Port{Label: p.Label, Value: p.Value, To: p.To})
	}
	owner := groupServiceTask(tg)
	for i, t := range tg.Tasks {
		pt := protocol.Task{
			Name:        t.Name,
			Driver:      t.Driver,
			Config:      t.Config,
			Env:         t.Env,
			Meta:        t.Meta,
			User:        t.User,
			KillTimeout: t.KillTimeout.Milliseconds(),
			KillSignal:  t.KillSignal,
			Leader:      t.Leader,
		}
		if t.Resources != nil {
			pt.Resources = protocol.Resources{CPU: t.Resources.CPU, MemoryMB: t.Resources.MemoryMB, Cores: t.Resources.Cores}
		}
		if t.Lifecycle != nil {
			pt.Lifecycle, pt.Sidecar = t.Lifecycle.Hook, t.Lifecycle.Sidecar
		}
		if r := t.Restart; r != nil {
			rp := restartPolicy(r, job.Type)
			pt.Restart = &rp
		}
		if dp := t.DispatchPayload; dp != nil {
			pt.DispatchFile = dp.File
			da.Payload = job.Payload // only where a task takes it: it counts against the node's budget
		}
		if l := t.Logs; l != nil {
			pt.Logs = &protocol.LogConfig{MaxFiles: l.MaxFiles, MaxFileSizeMB: l.MaxFileSizeMB, Disabled: l.Disabled}
		}
		for _, ar := range t.Artifacts {
			pt.Artifacts = append(pt.Artifacts, protocol.Artifact{Source: ar.Source, Destination: ar.Destination, Checksum: ar.Checksum, Mode: ar.Mode})
		}
		for _, tp := range t.Templates {
			pt.Templates = append(pt.Templates, protocol.Template{
				Data: tp.Data, Destination: tp.Destination, Env: tp.Env,
				ChangeMode: tp.ChangeMode, ChangeSignal: tp.ChangeSignal, Perms: tp.Perms,
				LeftDelim: tp.LeftDelim, RightDelim: tp.RightDelim,
				Source: tp.Source, SplayMs: tp.Splay.Milliseconds(),
			})
		}
		services := t.Services
		if i == owner { // group services are registered by the group's first main task
			services = append(append([]*jobspec.Service{}, tg.Services...), t.Services...)
		}
		for _, s := range services {
			ps := protocol.Service{Name: s.Name, PortLabel: s.PortLabel, Tags: s.Tags, Address: s.Address, Provider: s.Provider}
			for _, c := range s.Checks {
				ps.Checks = append(ps.Checks, protocol.Check{
					Type: c.Type, Path: c.Path, IntervalMs: c.Interval.Milliseconds(),
					TimeoutMs: c.Timeout.Milliseconds(), PortLabel: c.PortLabel,
					Method: c.Method, Header: c.Header, Body: c.Body,
				})
				checkRestart(&ps.Checks[len(ps.Checks)-1], c.CheckRestart) // health.go
			}
			pt.Services = append(pt.Services, ps)
		}
		da.Tasks = append(da.Tasks, pt)
	}
	return da
}

// restartPolicy is a group's or task's restart policy as the agent applies
// it; tasks of service and system jobs are restarted after exit 0 too.
func restartPolicy(r *jobspec.RestartPolicy, jobType string) protocol.RestartPolicy {
	return protocol.RestartPolicy{
		Attempts:   r.Attempts,
		IntervalMs: r.Interval.Milliseconds(),
		DelayMs:    r.Delay.Milliseconds(),
		Mode:       r.Mode,
		OnSuccess:  !jobspec.RunsToCompletion(jobType),
	}
}

// groupServiceTask is the index of the task that registers the group's
// services: the first main task (a prestart task may have exited long
// before; a group has one, validation sees to it), else the first task.
func groupServiceTask(tg *jobspec.TaskGroup) int {
	for i, t := range tg.Tasks {
		if t != nil && t.Lifecycle == nil {
			return i
		}
	}
	return 0
}
