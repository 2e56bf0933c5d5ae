package apitest

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tether-edge/tether/central/api"
)

// UpdateNode sets the node's eligibility and drain flag. It creates no
// evaluations.
func (b *Backend) UpdateNode(ctx context.Context, nodeID string, eligible, drain bool) ([]string, uint64, error) {
	if b.WriteErr != nil {
		return nil, 0, b.WriteErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.nodes[nodeID]
	if !ok {
		return nil, 0, fmt.Errorf("node %q not found", nodeID)
	}
	c := *n
	c.Eligible, c.Drain = eligible, drain
	idx := b.bump("nodes")
	c.ModifyIndex = idx
	b.nodes[nodeID] = &c
	return nil, idx, nil
}

// Metrics returns ExtraMetrics.
func (b *Backend) Metrics() []api.Metric { return b.ExtraMetrics }

// LogsKey names one log in Backend.Logs: "<alloc>/<task>/stdout" or
// ".../stderr".
func LogsKey(allocID, task string, stderr bool) string {
	kind := "stdout"
	if stderr {
		kind = "stderr"
	}
	return allocID + "/" + task + "/" + kind
}

// StreamLogs writes the log stored under LogsKey, its last req.Lines lines
// if set. Follow is ignored.
func (b *Backend) StreamLogs(ctx context.Context, req api.LogsRequest, w io.Writer) error {
	b.mu.Lock()
	text, ok := b.Logs[LogsKey(req.AllocID, req.Task, req.Stderr)]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: no log for task %q of allocation %s", api.ErrLogsUnavailable, req.Task, req.AllocID)
	}
	if req.Lines > 0 {
		lines := strings.SplitAfter(text, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		text = strings.Join(lines[max(0, len(lines)-req.Lines):], "")
	}
	_, err := io.WriteString(w, text)
	return err
}
