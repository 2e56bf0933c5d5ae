package agent

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// An allocation's usage is measured on request: central publishes a
// StatsRequest on node/<id>/stats and the agent answers once on
// node/<id>/stats/<request id>, after reading each task's CPU time twice
// protocol.StatsWindowMs apart (on its own goroutine: the Run goroutine
// never waits).

// maxStatsRequests bounds the stats requests an agent measures at once.
const maxStatsRequests = 4

// statsRequests counts the requests being measured.
type statsRequests struct {
	active atomic.Int32
}

// taskProbe is one task to measure: its handle, or why there is none.
type taskProbe struct {
	name, driver string
	h            drivers.Handle
}

// handleStatsTopic handles a message on the node's stats request topic.
// It reports whether topic was one; it runs on the Run goroutine.
func (a *Agent) handleStatsTopic(topic string, payload []byte) bool {
	node, reqID, ok := a.topics.ParseStats(topic)
	if !ok || reqID != "" {
		return false
	}
	if node != a.nodeID {
		return true
	}
	var req protocol.StatsRequest
	if err := protocol.Decode(payload, &req); err != nil || !protocol.ValidID(req.ID) {
		a.malformed.Add(1)
		a.log.Warn("malformed stats request dropped", "err", err, "bytes", len(payload))
		return true
	}
	reply := a.topics.StatsReply(a.nodeID, req.ID)
	fail := func(msg string) {
		a.publish(reply, 1, false, &protocol.StatsReply{V: protocol.Version, ID: req.ID, Time: time.Now().UnixMilli(), Err: msg})
	}
	e := a.allocs[req.AllocID]
	if e == nil || e.runner == nil {
		fail("allocation " + req.AllocID + " is not running on this node")
		return true
	}
	var probes []taskProbe
	for _, t := range e.rec.Alloc.Tasks {
		if req.Task == "" || t.Name == req.Task {
			probes = append(probes, taskProbe{name: t.Name, driver: t.Driver, h: e.runner.TaskHandle(t.Name)})
		}
	}
	if len(probes) == 0 {
		fail("allocation " + req.AllocID + " has no task " + req.Task)
		return true
	}
	probes = probes[:min(len(probes), protocol.MaxStatsTasks)]
	if a.stats.active.Add(1) > maxStatsRequests {
		a.stats.active.Add(-1)
		fail("too many stats requests on this node; try again in a second")
		return true
	}
	go func() {
		defer a.stats.active.Add(-1)
		r := measure(a.runnerCtx, probes, protocol.StatsWindowMs*time.Millisecond)
		r.V, r.ID = protocol.Version, req.ID
		if err := a.sess.PublishWait(reply, 1, false, a.encode(r), 10*time.Second); err != nil {
			a.log.Debug("stats reply not sent", "alloc", req.AllocID, "err", err)
		}
	}()
	return true
}

// measure reads each task's usage twice, window apart, and returns the
// reply's tasks: CPU as permille of one core over the window.
func measure(ctx context.Context, probes []taskProbe, window time.Duration) *protocol.StatsReply {
	type reading struct {
		u   drivers.Usage
		err error
	}
	read := func() []reading {
		out := make([]reading, len(probes))
		for i, p := range probes {
			if st, ok := p.h.(drivers.Statser); ok {
				out[i].u, out[i].err = st.Stats()
			}
		}
		return out
	}
	start := time.Now()
	first := read()
	t := time.NewTimer(window)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	second := read()
	elapsed := time.Since(start).Seconds()
	r := &protocol.StatsReply{Time: time.Now().UnixMilli()}
	for i, p := range probes {
		tu := protocol.TaskUsage{Name: p.name}
		_, statser := p.h.(drivers.Statser)
		switch {
		case p.h == nil:
			tu.Unavailable = "not running"
		case !statser:
			tu.Unavailable = "the " + p.driver + " driver does not measure usage"
		case second[i].err != nil:
			tu.Unavailable = second[i].err.Error()
		default:
			u := second[i].u
			tu.MemBytes, tu.NoCPU = u.RSSBytes, u.NoCPU
			if !u.NoCPU {
				tu.CPUTimeMs = uint64(max(u.CPUSeconds, 0) * 1000)
				if first[i].err == nil && elapsed > 0 && u.CPUSeconds >= first[i].u.CPUSeconds {
					tu.CPU = int((u.CPUSeconds - first[i].u.CPUSeconds) / elapsed * 1000)
				}
			}
		}
		r.Tasks = append(r.Tasks, tu)
	}
	slices.SortFunc(r.Tasks, func(a, b protocol.TaskUsage) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return r
}
