package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// `central alloc exec`, as Nomad's:
//
//	GET /v1/client/allocation/<id>/exec?task=web&command=["sh","-c","ls"]&tty=true
//
// upgrades to a websocket once the request is authorised (alloc-exec in
// the allocation's namespace; a browser's request only from central's own
// origin) and the task found. Frames are JSON text messages, Nomad's:
//
//	client → central  {"stdin":{"data":"<base64>"}}  {"stdin":{"close":true}}
//	                  {"tty_size":{"height":24,"width":80}}
//	central → client  {"stdout":{"data":"<base64>"}}  {"stderr":{"data":"<base64>"}}
//	                  {"exited":true,"result":{"exit_code":3}}
//	                  {"exited":true,"error":"..."}  (the session broke)
//
// Each session is audited in central's log: who, allocation, task,
// command, tty, start, end, exit code, bytes each way.

// ErrExecUnavailable is wrapped by OpenExec when the session cannot start
// now (no leader, node not ready, broker down); ErrExecUnsupported when the
// node's agent cannot run sessions.
var (
	ErrExecUnavailable = errors.New("exec unavailable")
	ErrExecUnsupported = errors.New("exec unsupported")
)

// ExecNotLeaderError is OpenExec's answer on a follower: only the leader
// holds the broker connections. The API redirects the client (307) to the
// leader's HTTP address; the CLI follows it once.
type ExecNotLeaderError struct{ Leader string }

func (e *ExecNotLeaderError) Error() string {
	if e.Leader == "" {
		return "exec unavailable: no leader now (an election is under way); retry in a few seconds"
	}
	return "exec unavailable: this server does not lead the cluster; the leader is " + e.Leader
}

// Limits of the exec endpoint.
const (
	maxExecFrame = 64 << 10 // bytes of one websocket message from the client
	// ExecIdleTimeout ends a session with neither input nor output.
	ExecIdleTimeout = 30 * time.Minute
	execWriteWait   = 30 * time.Second
)

// ExecRequest is a session to open.
type ExecRequest struct {
	AllocID, NodeID, Task string
	Command               []string
	TTY                   bool
	Width, Height         uint16
}

// ExecStream is an open session (gateway.ExecStream).
type ExecStream interface {
	Output() <-chan *protocol.ExecOut
	Err() error // why Output closed early
	Write(p []byte) (int, error)
	CloseStdin() error
	Resize(width, height uint16) error
	Passed(n int)
	Close()
}

// ExecBackend opens exec sessions (central/server implements it).
type ExecBackend interface {
	OpenExec(ctx context.Context, req ExecRequest) (ExecStream, error)
}

// ExecFrame is one websocket message, either way.
type ExecFrame struct {
	Stdin   *ExecData    `json:"stdin,omitempty"`
	Stdout  *ExecData    `json:"stdout,omitempty"`
	Stderr  *ExecData    `json:"stderr,omitempty"`
	TTYSize *ExecTTYSize `json:"tty_size,omitempty"`
	Exited  bool         `json:"exited,omitempty"`
	Result  *ExecResult  `json:"result,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// ExecData is a piece of a stream; Close ends stdin.
type ExecData struct {
	Data  []byte `json:"data,omitempty"` // base64 in JSON
	Close bool   `json:"close,omitempty"`
}

// ExecTTYSize is a terminal size.
type ExecTTYSize struct {
	Height uint16 `json:"height"`
	Width  uint16 `json:"width"`
}

// ExecResult is how the command ended.
type ExecResult struct {
	ExitCode int `json:"exit_code"`
}

func (s *server) execRoutes(route func(string, map[string]handlerFunc)) {
	anyNS := func(r *http.Request) error { return allowNS(r, "*", acl.CapAllocExec) }
	route("/v1/client/allocation/{id}/exec", map[string]handlerFunc{http.MethodGet: s.guard(anyNS, s.execAlloc)})
}

// execTarget checks an exec request before the upgrade and returns the
// session to open.
func (s *server) execTarget(r *http.Request) (ExecRequest, *structs.Allocation, error) {
	var req ExecRequest
	if msg := crossOrigin(r); msg != "" {
		return req, nil, &httpError{code: http.StatusForbidden, msg: msg}
	}
	a, err := lookupAlloc(r, s.b.State(), r.PathValue("id"), acl.CapAllocExec)
	if err != nil {
		return req, nil, err
	}
	if err := allowNS(r, a.Namespace, acl.CapAllocExec); err != nil {
		return req, nil, err
	}
	q := r.URL.Query()
	req = ExecRequest{AllocID: a.ID, NodeID: a.NodeID, Task: q.Get("task")}
	if err := json.Unmarshal([]byte(q.Get("command")), &req.Command); err != nil || len(req.Command) == 0 || req.Command[0] == "" {
		return req, nil, badRequest(`command %q: want a JSON array of words, e.g. command=["sh","-c","ls"]`, q.Get("command"))
	}
	n := 0
	for _, w := range req.Command {
		n += len(w)
	}
	if len(req.Command) > protocol.MaxExecArgs || n > protocol.MaxExecCommandSize {
		return req, nil, badRequest("command: at most %d words and %d bytes", protocol.MaxExecArgs, protocol.MaxExecCommandSize)
	}
	if v := q.Get("tty"); v != "" {
		if req.TTY, err = strconv.ParseBool(v); err != nil {
			return req, nil, badRequest("tty %q: want true or false", v)
		}
	}
	tasks := allocTasks(a)
	if req.Task == "" {
		if len(tasks) != 1 {
			return req, nil, badRequest("allocation %s has several tasks (%s): name one with -task", shortID(a.ID), strings.Join(sortedKeys(tasks), ", "))
		}
		for t := range tasks {
			req.Task = t
		}
	}
	if !tasks[req.Task] {
		return req, nil, notFound("allocation %s has no task %q (tasks: %s)", shortID(a.ID), req.Task, strings.Join(sortedKeys(tasks), ", "))
	}
	if a.Job != nil {
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			for _, t := range tg.Tasks {
				if t.Name == req.Task && t.Driver == "wasm" {
					return req, nil, badRequest("task %q of allocation %s uses the wasm driver, which cannot run other commands (a WebAssembly module has no shell or process to exec into): read its output with `central alloc logs -task %s %s`, restart it with `central alloc restart -task %s %s`", t.Name, shortID(a.ID), t.Name, shortID(a.ID), t.Name, shortID(a.ID))
				}
			}
		}
	}
	if !taskRunning(a, req.Task) {
		return req, nil, &httpError{code: http.StatusConflict, msg: fmt.Sprintf("task %q of allocation %s is not running (as its agent last reported): nothing to exec into; see `central alloc status %s`", req.Task, shortID(a.ID), shortID(a.ID))}
	}
	return req, a, nil
}

var execUpgrader = websocket.Upgrader{
	ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10,
	// crossOrigin has checked Origin (execTarget), as for every write.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (s *server) execAlloc(w http.ResponseWriter, r *http.Request) error {
	req, a, err := s.execTarget(r)
	if err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return badRequest("alloc exec is a websocket: send Connection: Upgrade and Upgrade: websocket (the CLI does: central alloc exec)")
	}
	eb, ok := s.b.(ExecBackend)
	if !ok {
		return &httpError{code: http.StatusNotImplemented, msg: "this server cannot run exec sessions"}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st, err := eb.OpenExec(ctx, req)
	var nl *ExecNotLeaderError
	switch {
	case errors.As(err, &nl) && nl.Leader != "":
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		http.Redirect(w, r, scheme+"://"+nl.Leader+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		return nil
	case errors.Is(err, ErrExecUnsupported):
		return &httpError{code: http.StatusConflict, msg: err.Error()}
	case err != nil:
		return &httpError{code: http.StatusServiceUnavailable, msg: err.Error()}
	}
	defer st.Close()
	ws, err := execUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	defer ws.Close()
	// The server's request deadlines stay on a hijacked connection: a
	// session lasts as long as it is used (ExecIdleTimeout).
	_ = ws.NetConn().SetDeadline(time.Time{})
	ws.SetReadLimit(maxExecFrame)
	au := execAudit{s: s, who: who(r), a: a, req: req, start: time.Now(), remote: r.RemoteAddr}
	s.log.Info("exec session started", au.attrs()...)
	code, why := s.pumpExec(ctx, cancel, ws, st, &au)
	au.end(code, why)
	return nil
}

// execAudit is the audit record of one session.
type execAudit struct {
	s          *server
	who        string
	a          *structs.Allocation
	req        ExecRequest
	start      time.Time
	remote     string
	mu         sync.Mutex // guards the counters
	in, out    int
	lastActive time.Time
}

func (au *execAudit) attrs() []any {
	return []any{"by", au.who, "alloc", au.a.ID, "job", au.a.JobID, "namespace", au.a.Namespace, "node", au.a.NodeID,
		"task", au.req.Task, "command", au.req.Command, "tty", au.req.TTY, "remote", au.remote, "start", au.start.UTC().Format(time.RFC3339Nano)}
}

func (au *execAudit) count(in, out int) {
	au.mu.Lock()
	au.in += in
	au.out += out
	au.lastActive = time.Now()
	au.mu.Unlock()
}

func (au *execAudit) idle() time.Duration {
	au.mu.Lock()
	defer au.mu.Unlock()
	last := au.lastActive
	if last.IsZero() {
		last = au.start
	}
	return time.Since(last)
}

func (au *execAudit) end(code *int, why string) {
	au.mu.Lock()
	defer au.mu.Unlock()
	attrs := append(au.attrs(), "end", time.Now().UTC().Format(time.RFC3339Nano), "duration", time.Since(au.start).Round(time.Millisecond).String(),
		"bytes_in", au.in, "bytes_out", au.out)
	if code != nil {
		attrs = append(attrs, "exit_code", *code)
	}
	if why != "" {
		attrs = append(attrs, "ended", why)
	}
	au.s.log.Info("exec session ended", attrs...)
}

// pumpExec relays frames until the session ends; it returns the exit code
// (nil if the command did not exit) and why the session ended otherwise.
func (s *server) pumpExec(ctx context.Context, cancel context.CancelFunc, ws *websocket.Conn, st ExecStream, au *execAudit) (*int, string) {
	var why sync.Once
	reason := ""
	end := func(msg string) { why.Do(func() { reason = msg }); cancel() }
	go func() { // client → agent
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				end("the client left")
				return
			}
			var f ExecFrame
			if err := json.Unmarshal(b, &f); err != nil {
				end("malformed frame from the client: " + err.Error())
				return
			}
			switch {
			case f.Stdin != nil && len(f.Stdin.Data) > 0:
				au.count(len(f.Stdin.Data), 0)
				if _, err := st.Write(f.Stdin.Data); err != nil {
					end(err.Error())
					return
				}
			case f.Stdin != nil && f.Stdin.Close:
				_ = st.CloseStdin()
			case f.TTYSize != nil:
				_ = st.Resize(f.TTYSize.Width, f.TTYSize.Height)
			}
		}
	}()
	idle := time.NewTicker(time.Minute)
	defer idle.Stop()
	send := func(f *ExecFrame) error {
		_ = ws.SetWriteDeadline(time.Now().Add(execWriteWait))
		return ws.WriteJSON(f)
	}
	out := st.Output()
	for {
		select {
		case <-ctx.Done():
			_ = send(&ExecFrame{Exited: true, Error: "session ended: " + reason})
			return nil, reason
		case <-idle.C:
			if au.idle() > ExecIdleTimeout {
				end(fmt.Sprintf("idle for %s", ExecIdleTimeout))
			}
		case f, ok := <-out:
			if !ok {
				msg := "the session ended"
				if err := st.Err(); err != nil {
					msg = err.Error()
				}
				_ = send(&ExecFrame{Exited: true, Error: msg})
				return nil, msg
			}
			var err error
			switch {
			case len(f.Stdout) > 0:
				err = send(&ExecFrame{Stdout: &ExecData{Data: f.Stdout}})
			case len(f.Stderr) > 0:
				err = send(&ExecFrame{Stderr: &ExecData{Data: f.Stderr}})
			}
			if err != nil {
				end("writing to the client: " + err.Error())
				continue
			}
			n := len(f.Stdout) + len(f.Stderr)
			au.count(0, n)
			st.Passed(n)
			if f.Err != "" {
				_ = send(&ExecFrame{Exited: true, Error: f.Err})
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return nil, "agent: " + f.Err
			}
			if f.Exited {
				code := f.ExitCode
				_ = send(&ExecFrame{Exited: true, Result: &ExecResult{ExitCode: code}})
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return &code, ""
			}
		}
	}
}
