package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/nodestats"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// NodeStats returns a node's device metrics of the last hour, from the
// leader's memory (nodestats): a follower has none, and a new leader
// starts with none.
func (s *Server) NodeStats(nodeID string) ([]api.NodeStatsSample, error) {
	l := s.currentLeader()
	if l == nil {
		return nil, fmt.Errorf("%w: this server does not lead the cluster and keeps no node history; ask the leader (central server members)", api.ErrStatsUnavailable)
	}
	total := s.memTotalBytes(nodeID)
	samples := l.ops.hist.Samples(nodeID, time.Now())
	out := make([]api.NodeStatsSample, len(samples))
	for i, x := range samples {
		out[i] = sampleJSON(x, total)
	}
	return out, nil
}

// LatestNodeStats returns what a node's latest heartbeat at this leader
// carried (nil if none).
func (s *Server) LatestNodeStats(nodeID string) (*api.NodeStatsSample, error) {
	l := s.currentLeader()
	if l == nil {
		return nil, fmt.Errorf("%w: this server does not lead the cluster and holds no heartbeats; ask the leader (central server members)", api.ErrStatsUnavailable)
	}
	l.ops.mu.Lock()
	a, ok := l.ops.agents[nodeID]
	l.ops.mu.Unlock()
	if !ok {
		return nil, nil
	}
	x := sampleJSON(nodestats.FromHeartbeat(a.at, &a.hb), s.memTotalBytes(nodeID))
	x.Time = a.at.UnixMilli()
	// The bytes the heartbeat gave, where the sample keeps MiB.
	x.DiskUsedBytes, x.DiskAvailBytes = a.hb.Disk()
	return &x, nil
}

// memTotalBytes is the node's memory as its hello gave it (0 if unknown).
func (s *Server) memTotalBytes(nodeID string) uint64 {
	if n := s.store.NodeByID(nodeID); n != nil && n.Resources.MemoryMB > 0 {
		return uint64(n.Resources.MemoryMB) << 20
	}
	return 0
}

func sampleJSON(x nodestats.Sample, memTotal uint64) api.NodeStatsSample {
	out := api.NodeStatsSample{
		Time:             int64(x.Unix) * 1000,
		CPUPercent:       float64(x.CPU) / 10,
		MemoryUsedBytes:  uint64(x.MemUsedMiB) << 20,
		MemoryTotalBytes: memTotal,
		DiskUsedBytes:    uint64(x.DiskUsedMiB) << 20,
		DiskAvailBytes:   uint64(x.DiskAvailMiB) << 20,
		Load1:            float64(x.Load1) / 100,
	}
	if x.Temp != nodestats.NoTemp {
		c := float64(x.Temp) / 10
		out.TemperatureC = &c
	}
	return out
}

// reservedFromHello is a hello's reserved block for the node record (nil
// when it reserves nothing; negative amounts count as none).
func reservedFromHello(r *protocol.Reserved) *structs.Reserved {
	if r == nil || r.CPU <= 0 && r.MemoryMB <= 0 {
		return nil
	}
	return &structs.Reserved{CPU: max(r.CPU, 0), MemoryMB: max(r.MemoryMB, 0)}
}

// takesMetrics reports whether a node's desired state says central takes
// device metrics: only for agents that understand the field.
func takesMetrics(n *structs.Node) bool {
	return n != nil && n.Attributes[protocol.AttrMetrics] == "1"
}

// statsAnswerTimeout bounds the wait for an agent's stats reply (it
// measures CPU over protocol.StatsWindowMs first).
const statsAnswerTimeout = 5 * time.Second

// AllocStats asks an allocation's agent for its tasks' usage, over MQTT
// (protocol/stats.go), from the leader.
func (s *Server) AllocStats(ctx context.Context, req api.AllocStatsRequest) (*api.AllocStats, error) {
	l := s.currentLeader()
	if l == nil {
		return nil, fmt.Errorf("%w: this server does not lead the cluster; ask the leader (central server members)", api.ErrStatsUnavailable)
	}
	n := s.store.NodeByID(req.NodeID)
	if n == nil {
		return nil, fmt.Errorf("%w: node %q of allocation %s is not registered", api.ErrStatsUnavailable, req.NodeID, req.AllocID)
	}
	if n.Status != structs.NodeReady {
		return nil, fmt.Errorf("%w: node %s is %s; stats can be read once it is ready again", api.ErrStatsUnavailable, n.Name, n.Status)
	}
	ctx, cancel := context.WithTimeout(ctx, statsAnswerTimeout)
	defer cancel()
	r, err := l.gw.AskStats(ctx, n.ID, protocol.StatsRequest{ID: structs.GenerateID(), AllocID: req.AllocID, Task: req.Task})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: the agent on node %s did not answer within %s (an agent older than allocation stats never answers: upgrade it)", api.ErrStatsUnavailable, n.Name, statsAnswerTimeout)
		}
		return nil, fmt.Errorf("%w: %v", api.ErrStatsUnavailable, err)
	}
	if r.Err != "" {
		return nil, fmt.Errorf("%w: node %s: %s", api.ErrStatsUnavailable, n.Name, r.Err)
	}
	return allocStatsJSON(req, r), nil
}

// allocStatsJSON converts an agent's reply, summing the tasks that have
// figures.
func allocStatsJSON(req api.AllocStatsRequest, r *protocol.StatsReply) *api.AllocStats {
	out := &api.AllocStats{AllocID: req.AllocID, NodeID: req.NodeID, Time: r.Time, Tasks: map[string]api.TaskStats{}}
	for _, u := range r.Tasks {
		var ts api.TaskStats
		if u.Unavailable != "" {
			ts.Unavailable = u.Unavailable
			out.Tasks[u.Name] = ts
			continue
		}
		mem := u.MemBytes
		ts.MemoryUsedBytes = &mem
		out.MemoryUsedBytes += mem
		if !u.NoCPU {
			pct, secs := float64(u.CPU)/10, float64(u.CPUTimeMs)/1000
			ts.CPUPercent, ts.CPUTotalSeconds = &pct, &secs
			out.CPUPercent += pct
		}
		out.Tasks[u.Name] = ts
	}
	return out
}
