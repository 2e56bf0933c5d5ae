package main

import (
	"fmt"
	"time"

	"github.com/tether-edge/tether/central/server"
)

// gcKeys are the state garbage collection keys (docs/central.md), read
// at the top level of the config file or, as Nomad has them, in the
// server block; the top level wins.
type gcKeys struct {
	JobGCInterval        string
	JobGCThreshold       string
	EvalGCThreshold      string
	BatchEvalGCThreshold string
	NodeGCThreshold      string
	JoinTokenGCThreshold string
	ACLTokenGCThreshold  string
	JobTrackedVersions   int
}

// gcConfig reads the keys of top, then of the server block.
func gcConfig(top gcKeys, srv *gcKeys) (server.GCConfig, error) {
	var in gcKeys
	if srv != nil {
		in = *srv
	}
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	var out server.GCConfig
	for _, d := range []struct {
		key, val string
		dst      *time.Duration
	}{
		{"job_gc_interval", pick(top.JobGCInterval, in.JobGCInterval), &out.Interval},
		{"job_gc_threshold", pick(top.JobGCThreshold, in.JobGCThreshold), &out.JobThreshold},
		{"eval_gc_threshold", pick(top.EvalGCThreshold, in.EvalGCThreshold), &out.EvalThreshold},
		{"batch_eval_gc_threshold", pick(top.BatchEvalGCThreshold, in.BatchEvalGCThreshold), &out.BatchEvalThreshold},
		{"node_gc_threshold", pick(top.NodeGCThreshold, in.NodeGCThreshold), &out.NodeThreshold},
		{"join_token_gc_threshold", pick(top.JoinTokenGCThreshold, in.JoinTokenGCThreshold), &out.JoinTokenThreshold},
		{"acl_token_gc_threshold", pick(top.ACLTokenGCThreshold, in.ACLTokenGCThreshold), &out.ACLTokenThreshold},
	} {
		if d.val == "" {
			continue
		}
		v, err := time.ParseDuration(d.val)
		if err != nil || v <= 0 {
			return out, fmt.Errorf("%s %q: use a positive duration such as \"4h\" or \"30m\"", d.key, d.val)
		}
		*d.dst = v
	}
	out.TrackedVersions = top.JobTrackedVersions
	if out.TrackedVersions == 0 {
		out.TrackedVersions = in.JobTrackedVersions
	}
	return out, nil
}

func (f *fileConfig) gcKeys() gcKeys {
	return gcKeys{f.JobGCInterval, f.JobGCThreshold, f.EvalGCThreshold, f.BatchEvalGCThreshold,
		f.NodeGCThreshold, f.JoinTokenGCThreshold, f.ACLTokenGCThreshold, f.JobTrackedVersions}
}

// gcKeys of a missing server block is nil.
func (b *serverBlock) gcKeys() *gcKeys {
	if b == nil {
		return nil
	}
	return &gcKeys{b.JobGCInterval, b.JobGCThreshold, b.EvalGCThreshold, b.BatchEvalGCThreshold,
		b.NodeGCThreshold, b.JoinTokenGCThreshold, b.ACLTokenGCThreshold, b.JobTrackedVersions}
}
