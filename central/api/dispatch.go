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
}

// DispatchResponse answers a dispatch: the child job and its evaluation.
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
	id := jobspec.DispatchID(parent.ID, time.Now().Unix(), strings.ReplaceAll(structs.GenerateID(), "-", ""))
	evalID, idx, err := s.b.SubmitJob(r.Context(), jobspec.DispatchChild(parent, id, req.Payload, req.Meta))
	if err != nil {
		return err
	}
	return writeJSON(w, idx, DispatchResponse{DispatchedJobID: id, EvalID: evalID, EvalCreateIndex: idx, JobCreateIndex: idx})
}

// decodeDispatch decodes a dispatch body; an empty body is a dispatch
// with no payload and no meta. Every error is the client's (a 400).
func decodeDispatch(body []byte) (*DispatchRequest, error) {
	var req DispatchRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return &req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("decoding request body: %v (want {\"Payload\": \"<base64>\", \"Meta\": {\"key\": \"value\"}}; Tether takes no other fields)", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("decoding request body: unexpected data after the JSON object")
	}
	return &req, nil
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
