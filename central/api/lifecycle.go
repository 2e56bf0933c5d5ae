package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// An operator's actions on one allocation, as Nomad's:
//
//	POST /v1/client/allocation/<id>/restart  {"task_name": "web"}       restart in place
//	POST /v1/client/allocation/<id>/signal   {"task": "web", "signal": "SIGHUP"}
//	POST /v1/allocation/<id>/stop                                       stop; a replacement is placed
//
// Each needs alloc-lifecycle in the allocation's namespace, checked in
// any namespace before the body is read. Restart and signal travel to the
// agent in its node's signed desired state and are applied there once
// (docs/RATIONALE.md, "Why do alloc restart and signal ride in the
// desired state?"); they are refused while the node is not ready, so a
// request never waits hours for a device to come back.

// LifecycleBackend is the part of the Backend that restarts, signals and
// stops allocations (central/server implements it).
type LifecycleBackend interface {
	// AllocAction records a restart or signal request; it returns the
	// request's sequence number on the allocation and the Raft index.
	AllocAction(ctx context.Context, allocID string, ac structs.AllocAction) (seq, index uint64, err error)
	// StopAlloc stops an allocation and evaluates its job; it returns the
	// evaluation's ID and the Raft index.
	StopAlloc(ctx context.Context, allocID, by string) (evalID string, index uint64, err error)
}

// DefaultSignal is what alloc signal sends when no signal is named: what
// Nomad's exec drivers send for an empty signal.
const DefaultSignal = "SIGINT"

// RestartRequest is the body of POST /v1/client/allocation/<id>/restart.
type RestartRequest struct {
	TaskName string `json:"task_name,omitempty"` // "": every task of the allocation that runs
}

// SignalRequest is the body of POST /v1/client/allocation/<id>/signal.
type SignalRequest struct {
	Task   string `json:"task,omitempty"`   // "": every task of the allocation that runs
	Signal string `json:"signal,omitempty"` // "": SIGINT
}

// ActionResponse answers a restart or signal: the request is recorded
// (Seq) and on its way to the node; the agent's task events show it done.
type ActionResponse struct {
	AllocID string `json:"alloc_id"`
	NodeID  string `json:"node_id"`
	Seq     uint64 `json:"seq"`
	Index   uint64 `json:"index"`
	Task    string `json:"task,omitempty"`
	Signal  string `json:"signal,omitempty"`
}

// StopResponse answers POST /v1/allocation/<id>/stop.
type StopResponse struct {
	EvalID string `json:"eval_id"`
	Index  uint64 `json:"index"`
}

func (s *server) lifecycleRoutes(route func(string, map[string]handlerFunc)) {
	post := func(h handlerFunc) map[string]handlerFunc {
		g := s.guard(func(r *http.Request) error { return allowNS(r, "*", acl.CapAllocLifecycle) }, h)
		return map[string]handlerFunc{http.MethodPost: g, http.MethodPut: g}
	}
	route("/v1/client/allocation/{id}/restart", post(s.restartAlloc))
	route("/v1/client/allocation/{id}/signal", post(s.signalAlloc))
	route("/v1/allocation/{id}/stop", post(s.stopAlloc))
}

// lifecycleTarget finds the allocation (a unique prefix will do), checks
// alloc-lifecycle in its namespace and the backend.
func (s *server) lifecycleTarget(r *http.Request) (*structs.Allocation, LifecycleBackend, error) {
	lb, ok := s.b.(LifecycleBackend)
	if !ok {
		return nil, nil, &httpError{code: http.StatusNotImplemented, msg: "this server cannot restart, signal or stop allocations"}
	}
	a, err := lookupAlloc(r, s.b.State(), r.PathValue("id"), acl.CapAllocLifecycle)
	if err != nil {
		return nil, nil, err
	}
	if err := allowNS(r, a.Namespace, acl.CapAllocLifecycle); err != nil {
		return nil, nil, err
	}
	if a.DesiredStatus != protocol.DesiredRun || a.Terminal() || a.ClientStatus == protocol.AllocComplete || a.ClientStatus == protocol.AllocFailed || a.ClientStatus == protocol.AllocLost {
		return nil, nil, &httpError{code: http.StatusConflict, msg: fmt.Sprintf("allocation %s is not running (desired %s, client %s): nothing to act on; see `central alloc status %s`", a.ID, a.DesiredStatus, a.ClientStatus, shortID(a.ID))}
	}
	return a, lb, nil
}

// readOptional decodes a small JSON body into v; an empty body leaves v
// as it is.
func readOptional(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOpsBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badRequest("request body: %v", err)
	}
	return nil
}

// who names the request's token for the audit log and events.
func who(r *http.Request) string {
	z := authzOf(r)
	switch {
	case z.token != nil && z.token.Name != "":
		return fmt.Sprintf("token %q (%s)", z.token.Name, shortID(z.token.AccessorID))
	case z.token != nil:
		return "token " + shortID(z.token.AccessorID)
	case z.anon && !z.acl.IsManagement():
		return "anonymous"
	}
	return "an operator (ACLs off)"
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (s *server) restartAlloc(w http.ResponseWriter, r *http.Request) error {
	var req RestartRequest
	if err := readOptional(w, r, &req); err != nil {
		return err
	}
	return s.act(w, r, structs.AllocAction{Kind: protocol.ActionRestart, Task: req.TaskName})
}

func (s *server) signalAlloc(w http.ResponseWriter, r *http.Request) error {
	var req SignalRequest
	if err := readOptional(w, r, &req); err != nil {
		return err
	}
	sig := DefaultSignal
	if req.Signal != "" {
		var err error
		if sig, err = NormalizeSignal(req.Signal); err != nil {
			return badRequest("%v", err)
		}
	}
	return s.act(w, r, structs.AllocAction{Kind: protocol.ActionSignal, Task: req.Task, Signal: sig})
}

func (s *server) act(w http.ResponseWriter, r *http.Request, ac structs.AllocAction) error {
	a, lb, err := s.lifecycleTarget(r)
	if err != nil {
		return err
	}
	tasks := allocTasks(a)
	if ac.Task != "" && !tasks[ac.Task] {
		return notFound("allocation %s has no task %q (tasks: %s)", a.ID, ac.Task, strings.Join(sortedKeys(tasks), ", "))
	}
	if !taskRunning(a, ac.Task) {
		what := "no task of allocation " + shortID(a.ID) + " is running"
		if ac.Task != "" {
			what = fmt.Sprintf("task %q of allocation %s is not running", ac.Task, shortID(a.ID))
		}
		return &httpError{code: http.StatusConflict, msg: what + " (as its agent last reported): nothing to " + ac.Kind + "; see `central alloc status " + shortID(a.ID) + "`"}
	}
	if ac.Kind == protocol.ActionSignal {
		if err := signalable(a, ac.Task); err != nil {
			return err
		}
	}
	if n := s.b.State().NodeByID(a.NodeID); n == nil || n.Status != structs.NodeReady {
		status := "gone"
		if n != nil {
			status = n.Status
		}
		return &httpError{code: http.StatusConflict, msg: fmt.Sprintf("node %s of allocation %s is %s: a %s would wait until the node is back; retry then, or replace the allocation elsewhere with `central alloc stop %s`", a.NodeID, shortID(a.ID), status, ac.Kind, shortID(a.ID))}
	}
	if n := s.b.State().NodeByID(a.NodeID); n.Attributes[protocol.AttrAllocActions] != "1" {
		return &httpError{code: http.StatusConflict, msg: fmt.Sprintf("the agent on node %s (version %q) predates alloc restart and signal: upgrade it; `central alloc stop %s` works meanwhile", n.Name, n.Version, shortID(a.ID))}
	}
	ac.By = who(r)
	seq, idx, err := lb.AllocAction(r.Context(), a.ID, ac)
	if err != nil {
		return err
	}
	s.log.Info("allocation "+ac.Kind+" requested", "alloc", a.ID, "job", a.JobID, "namespace", a.Namespace, "node", a.NodeID,
		"task", ac.Task, "signal", ac.Signal, "seq", seq, "by", ac.By, "remote", r.RemoteAddr)
	return writeJSON(w, idx, ActionResponse{AllocID: a.ID, NodeID: a.NodeID, Seq: seq, Index: idx, Task: ac.Task, Signal: ac.Signal})
}

func (s *server) stopAlloc(w http.ResponseWriter, r *http.Request) error {
	a, lb, err := s.lifecycleTarget(r)
	if err != nil {
		return err
	}
	by := who(r)
	evalID, idx, err := lb.StopAlloc(r.Context(), a.ID, by)
	if err != nil {
		return err
	}
	s.log.Info("allocation stop requested", "alloc", a.ID, "job", a.JobID, "namespace", a.Namespace, "node", a.NodeID,
		"eval", evalID, "by", by, "remote", r.RemoteAddr)
	return writeJSON(w, idx, StopResponse{EvalID: evalID, Index: idx})
}

// allocTasks is the set of the allocation's task names.
func allocTasks(a *structs.Allocation) map[string]bool {
	out := map[string]bool{}
	if a.Job != nil {
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			for _, t := range tg.Tasks {
				out[t.Name] = true
			}
		}
	}
	return out
}

// taskRunning reports whether the named task ("": any task) runs, as the
// agent last reported: a restart or signal reaches only running tasks.
func taskRunning(a *structs.Allocation, task string) bool {
	for name, ts := range a.TaskStates {
		if ts != nil && ts.State == protocol.TaskRunning && (task == "" || name == task) {
			return true
		}
	}
	return false
}

// signalable refuses a signal to a wasm task: a WebAssembly module has no
// signal handlers, and the wasm driver no way to deliver one.
func signalable(a *structs.Allocation, task string) error {
	if a.Job == nil {
		return nil
	}
	tg := a.Job.LookupTaskGroup(a.TaskGroup)
	if tg == nil {
		return nil
	}
	for _, t := range tg.Tasks {
		if (task == "" || t.Name == task) && t.Driver == "wasm" {
			hint := "name another task with -task"
			if task != "" || len(tg.Tasks) == 1 {
				hint = fmt.Sprintf("restart it instead with `central alloc restart -task %s %s`", t.Name, shortID(a.ID))
			}
			return badRequest("task %q of allocation %s uses the wasm driver, which cannot deliver signals (a WebAssembly module has no signal handlers): %s", t.Name, shortID(a.ID), hint)
		}
	}
	return nil
}

// signalNames are the signals alloc signal accepts (Linux numbering is
// the agent's business: names travel).
var signalNames = map[string]bool{
	"SIGHUP": true, "SIGINT": true, "SIGQUIT": true, "SIGILL": true, "SIGTRAP": true, "SIGABRT": true,
	"SIGBUS": true, "SIGFPE": true, "SIGKILL": true, "SIGUSR1": true, "SIGSEGV": true, "SIGUSR2": true,
	"SIGPIPE": true, "SIGALRM": true, "SIGTERM": true, "SIGCHLD": true, "SIGCONT": true, "SIGSTOP": true,
	"SIGTSTP": true, "SIGTTIN": true, "SIGTTOU": true, "SIGURG": true, "SIGXCPU": true, "SIGXFSZ": true,
	"SIGVTALRM": true, "SIGPROF": true, "SIGWINCH": true, "SIGIO": true, "SIGPWR": true, "SIGSYS": true,
}

// NormalizeSignal turns "hup", "HUP" or "SIGHUP" into "SIGHUP".
func NormalizeSignal(name string) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if !signalNames[s] {
		return "", fmt.Errorf("unknown signal %q: use a name like SIGHUP, SIGUSR1, SIGTERM, SIGINT or SIGKILL", name)
	}
	return s, nil
}
