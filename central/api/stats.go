package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
)

// StatsBackend is what the stats endpoints need from the server. A
// Backend that does not implement it answers 501.
type StatsBackend interface {
	// NodeStats returns a node's device metrics of the last hour, oldest
	// first, as the leader kept them from its heartbeats. It returns
	// ErrStatsUnavailable (wrapped) on a server that does not lead.
	NodeStats(nodeID string) ([]NodeStatsSample, error)
	// LatestNodeStats returns what the node's latest heartbeat carried.
	LatestNodeStats(nodeID string) (*NodeStatsSample, error)
	// AllocStats asks the allocation's agent for its tasks' CPU and
	// memory. It returns ErrStatsUnavailable (wrapped) when the agent
	// cannot be asked or does not answer.
	AllocStats(ctx context.Context, req AllocStatsRequest) (*AllocStats, error)
}

// ErrStatsUnavailable is wrapped by a StatsBackend when stats cannot be
// had from this server: it does not lead, or the agent did not answer.
var ErrStatsUnavailable = errors.New("stats unavailable")

// NodeStatsHistory is the body of GET /v1/node/<id>/stats.
type NodeStatsHistory struct {
	NodeID  string            `json:"node_id"`
	Samples []NodeStatsSample `json:"samples"`
}

// NodeStatsSample is one minute of a node's device metrics (the latest
// heartbeat of that minute). TemperatureC is null for a board without a
// sensor; the other fields are 0 when the agent does not send them.
type NodeStatsSample struct {
	Time             int64    `json:"time"` // unix ms at the leader
	CPUPercent       float64  `json:"cpu_percent"`
	MemoryUsedBytes  uint64   `json:"memory_used_bytes"`
	MemoryTotalBytes uint64   `json:"memory_total_bytes"`
	DiskUsedBytes    uint64   `json:"disk_used_bytes"`
	DiskAvailBytes   uint64   `json:"disk_avail_bytes"`
	TemperatureC     *float64 `json:"temperature_c"`
	Load1            float64  `json:"load1"`
}

// ClientStats is the body of GET /v1/client/stats?node_id=<id>: the
// node's latest heartbeat, without a round trip to the agent.
type ClientStats struct {
	NodeID string `json:"node_id"`
	NodeStatsSample
}

// AllocStatsRequest asks an allocation's agent for its tasks' usage.
type AllocStatsRequest struct {
	AllocID string
	NodeID  string
	Task    string // "": every task
}

// AllocStats is the body of GET /v1/client/allocation/<id>/stats: the
// allocation's tasks' CPU and memory as their agent measured them, and
// their sums.
type AllocStats struct {
	AllocID         string               `json:"alloc_id"`
	NodeID          string               `json:"node_id"`
	Time            int64                `json:"time"` // unix ms on the agent
	CPUPercent      float64              `json:"cpu_percent"`
	MemoryUsedBytes uint64               `json:"memory_used_bytes"`
	Tasks           map[string]TaskStats `json:"tasks"`
}

// TaskStats is one task's usage. CPUPercent is of one core (a task busy on
// two cores shows 200), measured over a short window; it and
// CPUTotalSeconds are null where the driver cannot measure CPU (wasm).
// Unavailable says why a task has no figures (not running, the driver
// measures nothing).
type TaskStats struct {
	CPUPercent      *float64 `json:"cpu_percent"`
	CPUTotalSeconds *float64 `json:"cpu_total_seconds"`
	MemoryUsedBytes *uint64  `json:"memory_used_bytes"`
	Unavailable     string   `json:"unavailable,omitempty"`
}

// statsRoutes adds the stats endpoints: a node's last hour and latest
// heartbeat (from the leader's memory), and an allocation's tasks (asked
// of its agent).
func (s *server) statsRoutes(route func(string, map[string]handlerFunc)) {
	get := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: h} }
	route("/v1/node/{id}/stats", get(s.guard(nodeCap(acl.Read), s.nodeStats)))
	route("/v1/client/stats", get(s.guard(nodeCap(acl.Read), s.clientStats)))
	route("/v1/client/allocation/{id}/stats", get(s.guard(open, s.allocStats))) // read-job in its namespace
}

func (s *server) statsBackend() (StatsBackend, error) {
	sb, ok := s.b.(StatsBackend)
	if !ok {
		return nil, &httpError{code: http.StatusNotImplemented, msg: "this server keeps no stats"}
	}
	return sb, nil
}

// statsError answers ErrStatsUnavailable 503 with its text.
func statsError(err error) error {
	if errors.Is(err, ErrStatsUnavailable) {
		return &httpError{code: http.StatusServiceUnavailable, msg: err.Error()}
	}
	return err
}

func (s *server) nodeStats(w http.ResponseWriter, r *http.Request) error {
	sb, err := s.statsBackend()
	if err != nil {
		return err
	}
	n, err := s.lookupNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	samples, err := sb.NodeStats(n.ID)
	if err != nil {
		return statsError(err)
	}
	return writeJSON(w, 0, NodeStatsHistory{NodeID: n.ID, Samples: nonNil(samples)})
}

func (s *server) clientStats(w http.ResponseWriter, r *http.Request) error {
	sb, err := s.statsBackend()
	if err != nil {
		return err
	}
	id := r.URL.Query().Get("node_id")
	if id == "" {
		return badRequest("node_id missing: GET /v1/client/stats?node_id=<node ID or unique prefix>")
	}
	n, err := s.lookupNode(id)
	if err != nil {
		return err
	}
	latest, err := sb.LatestNodeStats(n.ID)
	if err != nil {
		return statsError(err)
	}
	if latest == nil {
		return notFound("node %s: no heartbeat at this leader yet (it keeps them in memory: after a failover, wait one heartbeat)", n.ID)
	}
	return writeJSON(w, 0, ClientStats{NodeID: n.ID, NodeStatsSample: *latest})
}

func (s *server) allocStats(w http.ResponseWriter, r *http.Request) error {
	sb, err := s.statsBackend()
	if err != nil {
		return err
	}
	a, err := lookupAlloc(r, s.b.State(), r.PathValue("id"), acl.CapReadJob)
	if err != nil {
		return err
	}
	if err := allowNS(r, a.Namespace, acl.CapReadJob); err != nil {
		return err
	}
	if a.Terminal() {
		return badRequest("allocation %s is %s: only a running allocation has stats", a.ID, a.ClientStatus)
	}
	req := AllocStatsRequest{AllocID: a.ID, NodeID: a.NodeID, Task: r.URL.Query().Get("task")}
	if req.Task != "" && a.Job != nil {
		var tasks []string
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			for _, t := range tg.Tasks {
				tasks = append(tasks, t.Name)
			}
		}
		if !contains(tasks, req.Task) {
			return notFound("allocation %s has no task %q (tasks: %s)", a.ID, req.Task, strings.Join(tasks, ", "))
		}
	}
	st, err := sb.AllocStats(r.Context(), req)
	if err != nil {
		return statsError(err)
	}
	return writeJSON(w, 0, st)
}
