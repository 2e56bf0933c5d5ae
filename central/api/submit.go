package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/jobspec"
)

// maxSubmitBody bounds a job submission; job files are a few KB.
const maxSubmitBody = 4 << 20

// SubmitRequest is the body of POST /v1/jobs: either the text of a job file
// (HCL, with its filename for error messages and its variables) or an
// already parsed job.
type SubmitRequest struct {
	HCL       *string           `json:"hcl,omitempty"`
	Filename  string            `json:"filename,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
	Job       *jobspec.Job      `json:"job,omitempty"`
}

// SubmitResponse answers POST /v1/jobs and DELETE /v1/job/<id>.
type SubmitResponse struct {
	EvalID         string `json:"eval_id"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	Warnings       string `json:"warnings"`
}

// decodeSubmit turns a POST /v1/jobs body into a validated job. Every error
// it returns is the client's fault (a 400); it never panics on input.
func decodeSubmit(body []byte, namespace string) (job *jobspec.Job, warnings []string, err error) {
	job, warnings, err = decodeSubmitRequest(body)
	if err != nil {
		return nil, warnings, err
	}
	if namespace != "" && namespace != job.Namespace {
		if job.Namespace != "" && job.Namespace != "default" {
			return nil, warnings, badRequest("job %q is in namespace %q but ?namespace=%s was given: drop one", job.ID, job.Namespace, namespace)
		}
		job.Namespace = namespace
	}
	return job, warnings, nil
}

func decodeSubmitRequest(body []byte) (*jobspec.Job, []string, error) {
	var req SubmitRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, badRequest("decoding request body: %v (want {\"hcl\": \"<job file>\", \"filename\": \"web.hcl\", \"variables\": {}} or {\"job\": {...}})", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, badRequest("decoding request body: unexpected data after the JSON object")
	}
	var job *jobspec.Job
	var warnings []string
	switch {
	case req.HCL != nil && req.Job != nil:
		return nil, nil, badRequest("request body has both \"hcl\" and \"job\": send one")
	case req.HCL != nil:
		name := req.Filename
		if name == "" {
			name = "job.hcl"
		}
		j, w, err := jobspec.ParseWithWarnings(name, []byte(*req.HCL), req.Variables)
		if err != nil {
			return nil, w, badRequest("%v", err)
		}
		job, warnings = j, w
	case req.Job != nil:
		if req.Variables != nil {
			return nil, nil, badRequest("\"variables\" apply only to \"hcl\"; a \"job\" is already evaluated")
		}
		job = req.Job
		if job.ParentID != "" || len(job.Payload) > 0 || job.DispatchIdempotencyToken != "" {
			// Only central makes children (job dispatch, periodic launches).
			return nil, nil, badRequest("job %q sets parent_id, payload or dispatch_idempotency_token, which central sets on the children it dispatches or launches: remove them (submit the parent job, then dispatch it)", job.ID)
		}
		job.Canonicalize()
		if err := job.Validate(); err != nil {
			return nil, nil, badRequest("%v", err)
		}
	default:
		return nil, nil, badRequest("request body has neither \"hcl\" nor \"job\": send the job file as {\"hcl\": \"...\"}")
	}
	if job == nil {
		return nil, nil, badRequest("the job file defines no job")
	}
	return job, warnings, nil
}

// canSubmit is POST /v1/jobs's guard, run before the body is read: the
// job's namespace is known only once the file is parsed, so it checks
// submit-job in the request's ?namespace= when there is one (the job must
// then be in it), and otherwise in at least one namespace. submitJob
// checks the parsed job's namespace again. A request without the
// capability anywhere is refused without its body being read.
func canSubmit(r *http.Request) error {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return allowNS(r, ns, acl.CapSubmitJob)
	}
	return allowNS(r, "*", acl.CapSubmitJob)
}

// PreAuthorize refuses a job submission that canSubmit refuses, and a
// dispatch without dispatch-job, before anything reads its body: a
// follower buffers a write's body to forward it to the leader, so the
// API's own check, on the leader, comes too late for that. Every other
// request passes through unchanged.
func PreAuthorize(b Backend, next http.Handler) http.Handler {
	resolver := acl.NewResolver()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check := canSubmit
		if isDispatchPath(r.URL.Path) {
			check = nsCap(acl.CapDispatchJob)
		} else if r.URL.Path != "/v1/jobs" {
			check = nil
		}
		if check == nil || (r.Method != http.MethodPost && r.Method != http.MethodPut) || !b.ACLEnabled() {
			next.ServeHTTP(w, r)
			return
		}
		secret := r.Header.Get(TokenHeader)
		z := &authz{anon: secret == ""}
		z.acl, z.token, z.err = resolver.Resolve(b.ACLState(), secret, time.Now())
		if err := check(r.WithContext(context.WithValue(r.Context(), aclCtxKey{}, z))); err != nil {
			var he *httpError
			errors.As(err, &he)
			closeUnread(w, r)
			writeError(w, he.code, he.msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Parsing a job file is bounded (jobspec's limits) but not cheap: hcl
// holds about 400 bytes per byte of a file. So only a few submissions are
// read and parsed at once; the others wait up to parseQueueWait, holding
// their connection but not their body, and are then told to retry. One
// that has its turn must send its body within submitBodyWait, so a slow
// sender cannot keep the turn.
var (
	parseQueueWait = 30 * time.Second
	submitBodyWait = 20 * time.Second
)

func newParseSlots() chan struct{} {
	return make(chan struct{}, min(max(runtime.GOMAXPROCS(0), 2), 8))
}

func (s *server) submitJob(w http.ResponseWriter, r *http.Request) error {
	t := time.NewTimer(parseQueueWait)
	defer t.Stop()
	select {
	case s.parsing <- struct{}{}:
		defer func() { <-s.parsing }()
	case <-t.C:
		w.Header().Set("Retry-After", "5")
		closeUnread(w, r)
		return &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("central is reading and parsing %d other job files; retry in a few seconds", cap(s.parsing))}
	case <-r.Context().Done():
		return nil // the client is gone
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(submitBodyWait))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{code: http.StatusRequestEntityTooLarge, msg: "request body larger than 4 MiB", err: errBadRequest}
		}
		return badRequest("reading request body: %v", err)
	}
	job, warnings, err := decodeSubmit(body, r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	ns := job.Namespace
	if ns == "" {
		ns = "default"
	}
	if err := allowNS(r, ns, acl.CapSubmitJob); err != nil {
		return err
	}
	evalID, idx, err := s.b.SubmitJob(r.Context(), job)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, SubmitResponse{EvalID: evalID, JobModifyIndex: idx, Warnings: strings.Join(warnings, "\n")})
}
