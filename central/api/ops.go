package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// OpsBackend is the operator side of the Backend: drain and eligibility,
// metrics, and task logs.
type OpsBackend interface {
	// UpdateNode sets a node's eligibility and drain flag and evaluates
	// the jobs with live allocations there. It returns the evaluations'
	// IDs and the index of the change.
	UpdateNode(ctx context.Context, nodeID string, eligible, drain bool) (evalIDs []string, index uint64, err error)
	// Metrics returns the server's own samples (Raft, MQTT, scheduler,
	// agents' heartbeat counters); the API adds the state store gauges.
	Metrics() []Metric
	// StreamLogs copies a task's log to w until the log ends (not
	// following), ctx is done, or w fails. It returns ErrLogsUnavailable
	// (wrapped) when the node cannot be asked.
	StreamLogs(ctx context.Context, req LogsRequest, w io.Writer) error
}

// ErrLogsUnavailable is wrapped by StreamLogs when the logs cannot be
// fetched: no leader with a broker connection, or the agent did not answer.
var ErrLogsUnavailable = errors.New("logs unavailable")

// LogsRequest asks for one task's stdout or stderr.
type LogsRequest struct {
	AllocID string
	NodeID  string
	Task    string
	Stderr  bool
	Follow  bool
	// Lines > 0 starts that many lines from the end (tail -n); with Lines
	// 0 and Tail set, the last 10 lines, as tail(1).
	Lines int
	Tail  bool
}

// NodeUpdateResponse answers a drain or eligibility change.
type NodeUpdateResponse struct {
	EvalIDs         []string `json:"eval_ids"`
	NodeModifyIndex uint64   `json:"node_modify_index"`
}

// DrainRequest is the body of POST /v1/node/<id>/drain.
type DrainRequest struct {
	// Enable starts a drain (and marks the node ineligible); false stops
	// it and marks the node eligible again unless KeepIneligible.
	Enable         bool   `json:"enable"`
	Deadline       string `json:"deadline,omitempty"` // Go duration; allocs migrate at once, so it only bounds the CLI's wait
	KeepIneligible bool   `json:"keep_ineligible,omitempty"`
}

// EligibilityRequest is the body of POST /v1/node/<id>/eligibility.
type EligibilityRequest struct {
	Eligibility string `json:"eligibility"` // eligible | ineligible
}

const maxOpsBody = 4 << 10

func decodeSmall(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOpsBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

func (s *server) drainNode(w http.ResponseWriter, r *http.Request) error {
	var req DrainRequest
	if err := decodeSmall(w, r, &req); err != nil {
		return err
	}
	if req.Deadline != "" {
		if d, err := time.ParseDuration(req.Deadline); err != nil || d < 0 {
			return badRequest("deadline %q: want a duration such as 1h or 30m", req.Deadline)
		}
	}
	n, err := s.lookupNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	eligible := !req.Enable && !req.KeepIneligible
	if !req.Enable && req.KeepIneligible {
		eligible = n.Eligible && !n.Drain
	}
	ids, idx, err := s.b.UpdateNode(r.Context(), n.ID, eligible, req.Enable)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, NodeUpdateResponse{EvalIDs: nonNil(ids), NodeModifyIndex: idx})
}

func (s *server) nodeEligibility(w http.ResponseWriter, r *http.Request) error {
	var req EligibilityRequest
	if err := decodeSmall(w, r, &req); err != nil {
		return err
	}
	var eligible bool
	switch req.Eligibility {
	case "eligible":
		eligible = true
	case "ineligible":
	default:
		return badRequest("eligibility %q: want \"eligible\" or \"ineligible\"", req.Eligibility)
	}
	n, err := s.lookupNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	if n.Drain && eligible {
		return badRequest("node %s is draining: it cannot be made eligible; stop the drain with `central node drain -disable %s`", n.ID, n.ID)
	}
	ids, idx, err := s.b.UpdateNode(r.Context(), n.ID, eligible, n.Drain)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, NodeUpdateResponse{EvalIDs: nonNil(ids), NodeModifyIndex: idx})
}
