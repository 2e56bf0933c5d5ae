package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/gc"
	"github.com/tether-edge/tether/central/state"
)

// State garbage collection, a leader duty (docs/operations.md): every
// job_gc_interval the leader computes what is collectable from a snapshot
// (central/gc, pure) and deletes it through Raft (state.GC). Decisions
// rest on times stored in the state (an alloc's or eval's modify time, a
// node's status time, a job's last activity), never on the leader's
// memory, so a new leader after a failover collects exactly what the old
// one would have. `central system gc` (PUT /v1/system/gc) runs one pass
// at once, ignoring the thresholds.

// GCConfig holds the garbage collection keys of the server config.
type GCConfig struct {
	Interval           time.Duration // job_gc_interval, default 5m
	EvalThreshold      time.Duration // eval_gc_threshold, default 1h
	BatchEvalThreshold time.Duration // batch_eval_gc_threshold, default 24h
	JobThreshold       time.Duration // job_gc_threshold, default 4h
	NodeThreshold      time.Duration // node_gc_threshold, default 24h
	JoinTokenThreshold time.Duration // join_token_gc_threshold, default 1h
	ACLTokenThreshold  time.Duration // acl_token_gc_threshold, default 1h
	// TrackedVersions is job_tracked_versions: versions kept per job
	// (default 6, at most maxTrackedVersions).
	TrackedVersions int
}

// maxTrackedVersions bounds job_tracked_versions: every version is a
// whole job spec in memory and in every snapshot.
const maxTrackedVersions = 100

// gcChunk is the most references one GC Raft entry carries.
const gcChunk = 4096

func (g *GCConfig) setDefaults() error {
	for _, d := range []struct {
		key string
		v   *time.Duration
		def time.Duration
	}{
		{"job_gc_interval", &g.Interval, 5 * time.Minute},
		{"eval_gc_threshold", &g.EvalThreshold, time.Hour},
		{"batch_eval_gc_threshold", &g.BatchEvalThreshold, 24 * time.Hour},
		{"job_gc_threshold", &g.JobThreshold, 4 * time.Hour},
		{"node_gc_threshold", &g.NodeThreshold, 24 * time.Hour},
		{"join_token_gc_threshold", &g.JoinTokenThreshold, time.Hour},
		{"acl_token_gc_threshold", &g.ACLTokenThreshold, time.Hour},
	} {
		if *d.v < 0 {
			return fmt.Errorf("server: %s = %v: use a positive duration, or leave it out for %v", d.key, *d.v, d.def)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if g.TrackedVersions < 0 || g.TrackedVersions > maxTrackedVersions {
		return fmt.Errorf("server: job_tracked_versions = %d: use 1 to %d, or leave it out for 6", g.TrackedVersions, maxTrackedVersions)
	}
	if g.TrackedVersions == 0 {
		g.TrackedVersions = 6
	}
	return nil
}

func (g *GCConfig) thresholds() gc.Thresholds {
	return gc.Thresholds{Eval: g.EvalThreshold, BatchEval: g.BatchEvalThreshold, Job: g.JobThreshold,
		Node: g.NodeThreshold, JoinToken: g.JoinTokenThreshold, ACLToken: g.ACLTokenThreshold, KeepVersions: g.TrackedVersions}
}

// gcStats counts this server's collections (it may have led several
// times). Its zero value is ready to use.
type gcStats struct {
	run     sync.Mutex // one pass at a time (the timer's, a forced one)
	mu      sync.Mutex // guards the fields below
	deleted state.GCCounts
	timer   uint64 // passes the timer started
	forced  uint64 // passes `system gc` asked for
}

// errGCNotLeader is returned by a pass that lost leadership midway.
var errGCNotLeader = errors.New("server: this server stopped leading during the garbage collection: run `central system gc` again")

// collect runs one pass: compute from a snapshot, commit in chunks. It
// returns what was deleted.
func (s *Server) collect(ctx context.Context, force bool) (state.GCCounts, error) {
	s.gcStats.run.Lock()
	defer s.gcStats.run.Unlock()
	s.gcStats.mu.Lock()
	if force {
		s.gcStats.forced++
	} else {
		s.gcStats.timer++
	}
	s.gcStats.mu.Unlock()
	op := gc.Compute(s.store.Snapshot(), time.Now(), s.cfg.GC.thresholds(), force)
	var total state.GCCounts
	for _, part := range gc.Split(op, gcChunk) {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if s.currentLeader() == nil {
			return total, errGCNotLeader
		}
		res, err := s.apply(&state.Command{Ops: []state.Op{{GC: part}}})
		if res != nil {
			total = total.Add(res.GC)
			s.gcStats.mu.Lock()
			s.gcStats.deleted = s.gcStats.deleted.Add(res.GC)
			s.gcStats.mu.Unlock()
		}
		if err != nil {
			return total, err
		}
	}
	if total.Total() > 0 {
		s.log.Info("garbage collected the state", "forced", force, "jobs", total.Jobs, "job_versions", total.JobVersions,
			"evals", total.Evals, "allocs", total.Allocs, "nodes", total.Nodes, "join_tokens", total.JoinTokens, "acl_tokens", total.ACLTokens)
	}
	return total, nil
}

// gcLoop is the leader's timer: a pass every job_gc_interval, the first
// one at most a minute after taking office (a leadership that changes
// more often than the interval still collects).
func (l *leader) gcLoop() {
	interval := l.s.cfg.GC.Interval
	t := time.NewTimer(min(interval, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := l.s.collect(l.ctx, false); err != nil && l.ctx.Err() == nil {
			l.s.log.Warn("garbage collection", "err", err)
		}
		t.Reset(interval)
	}
}

// GCResponse answers PUT /v1/system/gc: what the pass deleted.
type GCResponse struct {
	Deleted state.GCCounts `json:"deleted"`
}

// handleSystemGC runs one forced pass on the leader (leaderOnly forwards
// it there) and answers with its counts.
func (s *Server) handleSystemGC(w http.ResponseWriter, r *http.Request) {
	if s.currentLeader() == nil {
		writeErr(w, http.StatusServiceUnavailable, "this server is not the leader yet: retry")
		return
	}
	counts, err := s.collect(r.Context(), true)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "garbage collection: "+err.Error()+fmt.Sprintf(" (deleted so far: %+v)", counts))
		return
	}
	writeJSONBody(w, GCResponse{Deleted: counts})
}

func (s *Server) gcMetrics() []api.Metric {
	s.gcStats.mu.Lock()
	d, timer, forced := s.gcStats.deleted, s.gcStats.timer, s.gcStats.forced
	s.gcStats.mu.Unlock()
	const help = "Objects the state garbage collection deleted while this server led, by kind."
	out := []api.Metric{
		api.Counter("tether_gc_runs_total", "Garbage collection passes this server ran, by trigger (the leader's timer, or `central system gc`).", float64(timer), "trigger", "timer"),
		api.Counter("tether_gc_runs_total", "Garbage collection passes this server ran, by trigger (the leader's timer, or `central system gc`).", float64(forced), "trigger", "forced"),
	}
	for _, k := range []struct {
		kind string
		n    int
	}{{"allocs", d.Allocs}, {"evals", d.Evals}, {"jobs", d.Jobs}, {"job_versions", d.JobVersions}, {"nodes", d.Nodes}, {"join_tokens", d.JoinTokens}, {"acl_tokens", d.ACLTokens}} {
		out = append(out, api.Counter("tether_gc_deleted_total", help, float64(k.n), "kind", k.kind))
	}
	return out
}
