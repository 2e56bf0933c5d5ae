package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// maxDispatchBody bounds POST /v1/job/<id>/dispatch: a 16 KiB payload is
// under 22 KiB in base64; the rest is meta.
const maxDispatchBody = 256 << 10

// DispatchRequest is the body of POST /v1/job/<id>/dispatch, Nomad's
// shape: the payload in base64 and the dispatch's meta. Field names match
// in any case ("Payload" as Nomad's clients send it, or "payload").
type DispatchRequest struct {
	Payload []byte            `json:"payload,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	// IdempotencyToken, when set, makes a retried dispatch return the
	// child an earlier dispatch with the same token made (Nomad's).
	IdempotencyToken string `json:"idempotency_token,omitempty"`
}

// maxIdempotencyToken bounds a dispatch's idempotency token.
const maxIdempotencyToken = 256

// DispatchResponse answers a dispatch: the child job and its evaluation
// (no evaluation when an earlier dispatch with the same idempotency token
// made the child).
type DispatchResponse struct {
	DispatchedJobID string `json:"dispatched_job_id"`
	EvalID          string `json:"eval_id"`
	EvalCreateIndex uint64 `json:"eval_create_index"`
	JobCreateIndex  uint64 `json:"job_create_index"`
}

// dispatchJob creates a child of a parameterized job (Nomad's Job.Dispatch):
// <id>/dispatch-<unix>-<8 hex>, a copy of the job with the payload and the
// meta merged over the job's, registered and evaluated like any job.
func (s *server) dispatchJob(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDispatchBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{code: http.StatusRequestEntityTooLarge, msg: "request body larger than 256 KiB (a dispatch payload is at most 16 KiB)", err: errBadRequest}
		}
		return badRequest("reading request body: %v", err)
	}
	req, err := decodeDispatch(body)
	if err != nil {
		return err
	}
	parent, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	if err := jobspec.CheckDispatch(parent, req.Payload, req.Meta); err != nil {
		return badRequest("%v", err)
	}
	if req.IdempotencyToken != "" {
		if c := s.dispatchedWith(parent, req.IdempotencyToken); c != nil {
			return writeJSON(w, c.ModifyIndex, DispatchResponse{DispatchedJobID: c.ID, JobCreateIndex: c.CreateIndex})
		}
	}
	id := jobspec.DispatchID(parent.ID, time.Now().Unix(), strings.ReplaceAll(structs.GenerateID(), "-", ""))
	child := jobspec.DispatchChild(parent, id, req.Payload, req.Meta)
	child.DispatchIdempotencyToken = req.IdempotencyToken
	evalID, idx, err := s.b.SubmitJob(r.Context(), child)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, DispatchResponse{DispatchedJobID: id, EvalID: evalID, EvalCreateIndex: idx, JobCreateIndex: idx})
}

// decodeDispatch decodes a dispatch body; an empty body is a dispatch
// with no payload and no meta. Every error is the client's (a 400).
func decodeDispatch(body []byte) (*DispatchRequest, error) {
	// Nomad's clients send IdempotencyToken, which Go's JSON does not
	// match with idempotency_token (only case is ignored, not the '_').
	var in struct {
		DispatchRequest
		NomadToken string `json:"IdempotencyToken,omitempty"`
	}
	req := &in.DispatchRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, badRequest("decoding request body: %v (want {\"Payload\": \"<base64>\", \"Meta\": {\"key\": \"value\"}, \"IdempotencyToken\": \"...\"}; Tether takes no other fields)", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("decoding request body: unexpected data after the JSON object")
	}
	if in.NomadToken != "" {
		if req.IdempotencyToken != "" && req.IdempotencyToken != in.NomadToken {
			return nil, badRequest("request body has both idempotency_token and IdempotencyToken, with different values: send one")
		}
		req.IdempotencyToken = in.NomadToken
	}
	if len(req.IdempotencyToken) > maxIdempotencyToken {
		return nil, badRequest("idempotency token is %d bytes, over the limit of %d: use a shorter token (a UUID is enough)", len(req.IdempotencyToken), maxIdempotencyToken)
	}
	return req, nil
}

// dispatchedWith returns the child of parent that a dispatch with token
// made, or nil. As in Nomad, the check is not atomic with the write: two
// dispatches with one token racing each other may both dispatch; a retry
// after an answer that was lost (the edge case) finds the first.
func (s *server) dispatchedWith(parent *jobspec.Job, token string) *jobspec.Job {
	for _, j := range s.b.State().Jobs(parent.Namespace) {
		if j.ParentID == parent.ID && j.DispatchIdempotencyToken == token && strings.HasPrefix(j.ID, parent.ID+"/") {
			return j
		}
	}
	return nil
}

// isDispatchPath reports whether p is /v1/job/<id>/dispatch.
func isDispatchPath(p string) bool {
	id, ok := strings.CutPrefix(p, "/v1/job/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/dispatch")
	return ok && id != "" && !strings.Contains(id, "/")
}
