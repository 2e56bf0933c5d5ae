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
	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/jobspec"
)

// maxSubmitBody bounds a job submission; job files are a few KB.
const maxSubmitBody = 4 << 20

// Bounds on what a job file's submission may carry besides the file.
const (
	maxSubmitFiles   = 64   // files read by file() and the other file functions
	maxSubmitEnvVars = 1024 // NOMAD_VAR_ values
)

// SubmitRequest is the body of POST /v1/jobs (and of POST /v1/validate/job):
// either the text of a job file (HCL, with its filename for error messages,
// its variables, and what the CLI read for it) or an already parsed job.
type SubmitRequest struct {
	HCL       *string           `json:"hcl,omitempty"`
	Filename  string            `json:"filename,omitempty"`
	Variables map[string]string `json:"variables,omitempty"` // -var and -var-file values: a name the file does not declare is an error
	// EnvVariables are NOMAD_VAR_name values from the submitter's
	// environment, by name: below Variables; names the file does not
	// declare are ignored, as Nomad does.
	EnvVariables map[string]string `json:"env_variables,omitempty"`
	// Files answers file() and the other file functions, by the path as
	// the job file wrote it, each file's bytes base64-encoded in JSON (a
	// filebase64() file may be binary): the CLI reads them next to the job
	// file and sends them, and central parses with them (it never reads
	// its own disk for a job file). A path missing here does not exist.
	Files map[string][]byte `json:"files,omitempty"`
	Job   *jobspec.Job      `json:"job,omitempty"`
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
		if err := checkSubmitExtras(&req); err != nil {
			return nil, nil, err
		}
		j, w, err := jobspec.ParseWith([]byte(*req.HCL), jobspec.ParseOptions{
			Filename: name, Vars: req.Variables, EnvVars: req.EnvVariables, ReadFile: jobspec.MapReader(req.Files)})
		if err != nil {
			return nil, w, badRequest("%v", err)
		}
		job, warnings = j, w
	case req.Job != nil:
		if req.Variables != nil || req.EnvVariables != nil || req.Files != nil {
			return nil, nil, badRequest("\"variables\", \"env_variables\" and \"files\" apply only to \"hcl\"; a \"job\" is already evaluated: remove them")
		}
		job = req.Job
		if job.ParentID != "" || len(job.Payload) > 0 || job.DispatchIdempotencyToken != "" {
			// Only central makes children (job dispatch, periodic launches).
			return nil, nil, badRequest("job %q sets parent_id, payload or dispatch_idempotency_token, which central sets on the children it dispatches or launches: remove them (submit the parent job, then dispatch it)", job.ID)
		}
		job.NormalizeJSONNumbers() // config numbers as a job file gives them
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

// checkSubmitExtras bounds what an HCL submission carries besides the
// file; the body's own cap bounds their bytes.
func checkSubmitExtras(req *SubmitRequest) error {
	if len(req.Files) > maxSubmitFiles {
		return badRequest("the job file reads %d files, more than %d: put their contents in fewer files", len(req.Files), maxSubmitFiles)
	}
	total := 0
	for p, c := range req.Files {
		if p == "" {
			return badRequest("\"files\" has an empty path")
		}
		total += len(p) + len(c)
	}
	if total > jobspec.MaxFileBytes {
		return badRequest("the files the job file reads add up to %d bytes, more than %d: make them smaller", total, jobspec.MaxFileBytes)
	}
	if len(req.EnvVariables) > maxSubmitEnvVars {
		return badRequest("\"env_variables\" has %d values, more than %d: unset NOMAD_VAR_ variables the job does not use", len(req.EnvVariables), maxSubmitEnvVars)
	}
	return nil
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

// PreAuthorize refuses a job submission or plan that canSubmit refuses, a
// validation that canValidate refuses, and a dispatch without
// dispatch-job, before anything reads its body: a
// follower buffers a write's body to forward it to the leader, so the
// API's own check, on the leader, comes too late for that. Every other
// request passes through unchanged.
func PreAuthorize(b Backend, next http.Handler) http.Handler {
	resolver := acl.NewResolver()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check := canSubmit
		if isDispatchPath(r.URL.Path) {
			check = nsCap(acl.CapDispatchJob)
		} else if r.URL.Path == "/v1/validate/job" {
			check = canValidate // validate.go
		} else if r.URL.Path != "/v1/jobs" && !isPlanPath(r.URL.Path) { // plan.go: submit-job, as a submission
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
	job, warnings, err := s.readJob(w, r)
	if err != nil || job == nil {
		return err
	}
	ns := job.Namespace
	if ns == "" {
		ns = "default"
	}
	if err := allowNS(r, ns, acl.CapSubmitJob); err != nil {
		return err
	}
	var evalID string
	var idx uint64
	switch at, checked, cerr := checkIndex(r); { // plan.go: ?check_index=N
	case cerr != nil:
		return cerr
	case checked:
		is, ok := s.b.(IndexedSubmitter)
		if !ok {
			return &httpError{code: http.StatusNotImplemented, msg: "this server cannot check a job modify index: submit without check_index"}
		}
		evalID, idx, err = is.SubmitJobAt(r.Context(), job, at)
	default:
		evalID, idx, err = s.b.SubmitJob(r.Context(), job)
	}
	if err != nil {
		return err
	}
	// Service addresses that no node the job may run on resolves: the
	// monitor of `job submit` shows them (central/jobplan).
	warnings = append(warnings, jobplan.AddressWarnings(job, s.b.State().Nodes())...)
	return writeJSON(w, idx, SubmitResponse{EvalID: evalID, JobModifyIndex: idx, Warnings: strings.Join(warnings, "\n")})
}

// parseSlot waits up to parseQueueWait for one of the parse slots, which
// bound how many job files are parsed and plans made at once. The caller
// runs release when its work is done. A 503 (with Retry-After) means every
// slot stayed busy, doing names their work in it; a nil release with a nil
// error means the client went away.
func (s *server) parseSlot(w http.ResponseWriter, r *http.Request, doing string) (release func(), err error) {
	t := time.NewTimer(parseQueueWait)
	defer t.Stop()
	select {
	case s.parsing <- struct{}{}:
		return func() { <-s.parsing }, nil
	case <-t.C:
		w.Header().Set("Retry-After", "5")
		return nil, &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("central is %s %d other job files; retry in a few seconds", doing, cap(s.parsing))}
	case <-r.Context().Done():
		return nil, nil
	}
}

// readJob waits for a parse slot, reads the body of a job submission (POST
// /v1/jobs, POST /v1/job/<id>/plan) and decodes it into a validated job.
// A nil job with a nil error means the client went away.
func (s *server) readJob(w http.ResponseWriter, r *http.Request) (*jobspec.Job, []string, error) {
	release, err := s.parseSlot(w, r, "reading and parsing")
	if err != nil {
		closeUnread(w, r)
		return nil, nil, err
	}
	if release == nil {
		return nil, nil, nil // the client is gone
	}
	defer release()
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(submitBodyWait))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &httpError{code: http.StatusRequestEntityTooLarge, msg: "request body larger than 4 MiB", err: errBadRequest}
		}
		return nil, nil, badRequest("reading request body: %v", err)
	}
	return decodeSubmit(body, r.URL.Query().Get("namespace"))
}
