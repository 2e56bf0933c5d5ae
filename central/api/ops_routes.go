package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/protocol"
)

// Capabilities checked by the operator endpoints.
const (
	CapReadLogs  = acl.CapReadLogs
	CapNodeWrite = "node-write" // node { policy = "write" }
)

// opsRoutes adds the operator endpoints: drain and eligibility, metrics
// and task logs.
func (s *server) opsRoutes(route func(string, map[string]handlerFunc)) {
	post := func(h handlerFunc) map[string]handlerFunc {
		return map[string]handlerFunc{http.MethodPost: h, http.MethodPut: h}
	}
	route("/v1/node/{id}/drain", post(s.withCap(CapNodeWrite, s.drainNode)))
	route("/v1/node/{id}/eligibility", post(s.withCap(CapNodeWrite, s.nodeEligibility)))
	route("/v1/metrics", map[string]handlerFunc{http.MethodGet: s.metrics})
	route("/v1/client/fs/logs/{alloc}", map[string]handlerFunc{http.MethodGet: s.withCap(CapReadLogs, s.taskLogs)})
	s.lifecycleRoutes(route) // alloc restart, signal, stop (lifecycle.go)
}

// withCap guards an operator endpoint: node-write needs node write;
// read-logs is checked by the handler in the allocation's namespace, once
// it is known. With ACLs off every request is allowed.
func (s *server) withCap(capability string, h handlerFunc) handlerFunc {
	switch capability {
	case CapNodeWrite:
		return s.guard(nodeCap(acl.Write), h)
	case CapReadLogs:
		return s.guard(open, h)
	}
	panic("BUG: withCap: unknown capability " + capability)
}

// taskLogs streams a task's stdout or stderr from its agent:
//
//	GET /v1/client/fs/logs/<alloc>?task=web&type=stdout|stderr&follow=true&lines=N&tail=true
func (s *server) taskLogs(w http.ResponseWriter, r *http.Request) error {
	a, err := lookupAlloc(r, s.b.State(), r.PathValue("alloc"), acl.CapReadLogs)
	if errors.Is(err, errNotFound) {
		return notFound("%v: a finished allocation's logs can be read until central's garbage collection removes the allocation (docs/operations.md#garbage-collection-on-central), and its agent then removes its directory", err)
	}
	if err != nil {
		return err
	}
	if err := allowNS(r, a.Namespace, acl.CapReadLogs); err != nil {
		return err
	}
	q := r.URL.Query()
	req := LogsRequest{AllocID: a.ID, NodeID: a.NodeID, Task: q.Get("task")}
	switch t := q.Get("type"); t {
	case "", "stdout":
	case "stderr":
		req.Stderr = true
	default:
		return badRequest("type %q: want stdout or stderr", t)
	}
	for name, dst := range map[string]*bool{"follow": &req.Follow, "tail": &req.Tail} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badRequest("%s %q: want true or false", name, v)
			}
			*dst = b
		}
	}
	if v := q.Get("lines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > protocol.MaxLogLines {
			return badRequest("lines %q: want 0 to %d", v, protocol.MaxLogLines)
		}
		req.Lines = n
	}
	if req.Tail && req.Lines == 0 {
		req.Lines = 10
	}
	var tasks []string
	if a.Job != nil {
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			for _, t := range tg.Tasks {
				tasks = append(tasks, t.Name)
			}
		}
	}
	switch {
	case req.Task == "" && len(tasks) == 1:
		req.Task = tasks[0]
	case req.Task == "":
		return badRequest("allocation %s has %d tasks (%s): name one with ?task=", a.ID, len(tasks), strings.Join(tasks, ", "))
	case len(tasks) > 0 && !contains(tasks, req.Task):
		return notFound("allocation %s has no task %q (tasks: %s)", a.ID, req.Task, strings.Join(tasks, ", "))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fw := &flushWriter{w: w}
	err = s.b.StreamLogs(r.Context(), req, fw)
	if err != nil && !fw.wrote {
		if errors.Is(err, ErrLogsUnavailable) {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return nil
		}
		return err
	}
	if err != nil {
		s.log.Warn("log stream ended early", "alloc", a.ID, "task", req.Task, "err", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// flushWriter flushes after every write so a follower sees lines as they
// come.
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.wrote = true
	// A followed stream has no write deadline (listen.go): each write
	// gets its own, so a client that stops reading is let go.
	_ = http.NewResponseController(f.w).SetWriteDeadline(time.Now().Add(DefaultWriteTimeout))
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
