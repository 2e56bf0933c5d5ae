package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/central/ui"
	"github.com/tether-edge/tether/jobspec"
)

// uiBackend adapts a Backend to the web UI's needs.
type uiBackend struct{ b Backend }

// uiPageCheck is, for each UI page, the check of the API endpoint that
// serves the same data (nil for an unknown page); the page's content is
// then filtered by tokenView, as that endpoint filters its answer.
func uiPageCheck(page string) check {
	anyNS := func(capability string) check {
		return func(r *http.Request) error { return allowNS(r, "*", capability) }
	}
	switch page {
	case ui.PageFleet:
		return nodeCap(acl.Read) // GET /v1/nodes, /v1/node/<id>/stats
	case ui.PageRollouts, ui.PageRollout:
		return operatorCap(acl.Read) // GET /v1/agent/rollouts, /v1/agent/rollout/<id> (central/server/ota.go)
	case ui.PageServers:
		return agentCap(acl.Read) // GET /v1/agent/members
	case ui.PageClients:
		return nodeCap(acl.Read) // GET /v1/nodes, /v1/node/<id>/allocations (filtered)
	case ui.PageClient:
		return nodeCap(acl.Read) // GET /v1/node/<id>, /v1/node/<id>/allocations (filtered)
	case ui.PageJobs:
		return anyNS(acl.CapListJobs) // GET /v1/jobs?namespace=*
	case ui.PageJob:
		return nsCap(acl.CapReadJob) // GET /v1/job/<id>?namespace= and its /allocations
	case ui.PageAlloc:
		return anyNS(acl.CapReadJob) // GET /v1/allocation/<id or prefix> (lookupAlloc)
	case ui.PageLogs:
		// The page shows the allocation as GET /v1/allocation/<id> does;
		// its script streams the log from /v1/client/fs/logs, which checks
		// read-logs in the allocation's namespace.
		return anyNS(acl.CapReadLogs)
	case ui.PageServices:
		return anyNS(acl.CapReadJob) // GET /v1/services?namespace=*
	case ui.PageTokens:
		return open // shows no state
	}
	return nil
}

// Authorize implements ui.Backend: the page's API check, then the state as
// the request's token may see it. A page without a check is refused.
func (u uiBackend) Authorize(r *http.Request, page string) (ui.Reader, error) {
	c := uiPageCheck(page)
	if c == nil {
		return nil, fmt.Errorf("BUG: UI page %q has no ACL check; it is refused until it has one", page)
	}
	if err := c(r); err != nil {
		return nil, err
	}
	return tokenView{st: u.b.State(), r: r}, nil
}

func (u uiBackend) Members() []ui.Member {
	ms := u.b.Members()
	out := make([]ui.Member, len(ms))
	for i, m := range ms {
		out[i] = ui.Member{Name: m.Name, Address: m.Address, Status: m.Status, Leader: m.Leader}
	}
	return out
}

// LastHeartbeat asks the backend when it has the answer (the server's
// leader tracks heartbeats in memory).
func (u uiBackend) LastHeartbeat(nodeID string) time.Time {
	if h, ok := u.b.(interface{ LastHeartbeat(string) time.Time }); ok {
		return h.LastHeartbeat(nodeID)
	}
	return time.Time{}
}

// NodeStats and LatestStats: the device metrics the leader keeps from
// heartbeats, as GET /v1/node/<id>/stats and /v1/client/stats serve them
// (none on a follower, or from a backend that keeps none).
func (u uiBackend) NodeStats(nodeID string) []ui.Sample {
	sb, ok := u.b.(StatsBackend)
	if !ok {
		return nil
	}
	ss, err := sb.NodeStats(nodeID)
	if err != nil {
		return nil
	}
	out := make([]ui.Sample, len(ss))
	for i := range ss {
		out[i] = uiSample(&ss[i])
	}
	return out
}

func (u uiBackend) LatestStats(nodeID string) (ui.Sample, bool) {
	sb, ok := u.b.(StatsBackend)
	if !ok {
		return ui.Sample{}, false
	}
	s, err := sb.LatestNodeStats(nodeID)
	if err != nil || s == nil {
		return ui.Sample{}, false
	}
	return uiSample(s), true
}

func uiSample(s *NodeStatsSample) ui.Sample {
	out := ui.Sample{Time: s.Time, CPUPercent: s.CPUPercent, MemoryUsedBytes: s.MemoryUsedBytes, MemoryTotalBytes: s.MemoryTotalBytes,
		DiskUsedBytes: s.DiskUsedBytes, DiskAvailBytes: s.DiskAvailBytes, TemperatureC: math.NaN(), Load1: s.Load1}
	if s.TemperatureC != nil {
		out.TemperatureC = *s.TemperatureC
	}
	return out
}

// tokenView is central's state as one request's token may see it, by the
// API's own rules (canNS, readableAllocs): nodes with node read; jobs
// listed with list-jobs in their namespace and read with read-job there;
// allocations and service instances with read-job in theirs. What the
// token may not see is left out of lists, and a lookup of it finds
// nothing. It wraps each method rather than embedding the Reader, so a
// method added to ui.Reader does not compile until it is filtered here.
type tokenView struct {
	st Reader
	r  *http.Request
}

var _ ui.Reader = tokenView{}

func (v tokenView) readJob(ns string) bool { return canNS(v.r, ns, acl.CapReadJob) }

func (v tokenView) Nodes() []*structs.Node {
	if nodeCap(acl.Read)(v.r) != nil {
		return nil
	}
	return v.st.Nodes()
}

// Jobs and JobByID give each job its status as the API reports it
// (withStatus), so that the UI shows what GET /v1/jobs shows.
func (v tokenView) Jobs(ns string) []*jobspec.Job {
	var out []*jobspec.Job
	for _, j := range v.st.Jobs(ns) {
		if canNS(v.r, j.Namespace, acl.CapListJobs) {
			out = append(out, withStatus(j, v.st.AllocsByJob(j.Namespace, j.ID)))
		}
	}
	return out
}

func (v tokenView) JobByID(ns, id string) *jobspec.Job {
	if !v.readJob(ns) {
		return nil
	}
	j := v.st.JobByID(ns, id)
	if j == nil {
		return nil
	}
	return withStatus(j, v.st.AllocsByJob(ns, id))
}

// EvalsByJob: read-job, as GET /v1/job/<id>/evaluations.
func (v tokenView) EvalsByJob(ns, jobID string) []*structs.Evaluation {
	if !v.readJob(ns) {
		return nil
	}
	return v.st.EvalsByJob(ns, jobID)
}

// NodeByID: node read, as GET /v1/node/<id>.
func (v tokenView) NodeByID(id string) *structs.Node {
	if nodeCap(acl.Read)(v.r) != nil {
		return nil
	}
	return v.st.NodeByID(id)
}

func (v tokenView) JobVersions(ns, id string) []*jobspec.Job {
	if !v.readJob(ns) {
		return nil
	}
	return v.st.JobVersions(ns, id)
}

// DeploymentsByJob: read-job, as GET /v1/job/<id>/deployments. (A Reader
// without deployments shows none.)
func (v tokenView) DeploymentsByJob(ns, jobID string) []*structs.Deployment {
	dr, ok := v.st.(interface {
		DeploymentsByJob(ns, jobID string) []*structs.Deployment
	})
	if !ok || !v.readJob(ns) {
		return nil
	}
	return dr.DeploymentsByJob(ns, jobID)
}

func (v tokenView) AllocsByJob(ns, jobID string) []*structs.Allocation {
	if !v.readJob(ns) {
		return nil
	}
	return v.st.AllocsByJob(ns, jobID)
}

func (v tokenView) AllocsByNode(nodeID string) []*structs.Allocation {
	return readableAllocs(v.r, v.st.AllocsByNode(nodeID))
}

func (v tokenView) AllocByID(id string) *structs.Allocation {
	if a := v.st.AllocByID(id); a != nil && v.readJob(a.Namespace) {
		return a
	}
	return nil
}

func (v tokenView) AllocsByIDPrefix(prefix string) []*structs.Allocation {
	return readableAllocs(v.r, v.st.AllocsByIDPrefix(prefix))
}

func (v tokenView) Services(ns string) []*structs.ServiceRegistration {
	var out []*structs.ServiceRegistration
	for _, reg := range v.st.Services(ns) {
		if v.readJob(reg.Namespace) {
			out = append(out, reg)
		}
	}
	return out
}

// May applies the check of the API endpoint behind each UI action.
func (v tokenView) May(permission, ns string) bool {
	switch permission {
	case ui.MaySubmitJob: // DELETE /v1/job/<id>, POST .../revert, /v1/deployment/promote|fail/<id>
		return canNS(v.r, ns, acl.CapSubmitJob)
	case ui.MayAllocLifecycle: // POST /v1/client/allocation/<id>/restart
		return canNS(v.r, ns, acl.CapAllocLifecycle)
	case ui.MayNodeWrite: // POST /v1/node/<id>/drain, /eligibility
		return nodeCap(acl.Write)(v.r) == nil
	case ui.MayManagement: // POST /v1/agent/rollout/<id>/pause|resume|abort (CheckManagement)
		return management(v.r) == nil
	}
	return false
}

// AgentRollouts: operator read, as GET /v1/agent/rollouts. (A Reader
// without rollouts shows none.)
func (v tokenView) AgentRollouts() []*structs.AgentRollout {
	rr, ok := v.st.(interface {
		AgentRollouts() []*structs.AgentRollout
	})
	if !ok || operatorCap(acl.Read)(v.r) != nil {
		return nil
	}
	return rr.AgentRollouts()
}

// Index and Wait are the tables' indexes, which the API's blocking
// queries show to every reader too.
func (v tokenView) Index(table string) uint64 { return v.st.Index(table) }

func (v tokenView) Wait(ctx context.Context, table string, minIndex uint64) uint64 {
	return v.st.Wait(ctx, table, minIndex)
}
