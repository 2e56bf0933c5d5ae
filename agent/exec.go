package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// Exec sessions (`central alloc exec`, protocol/exec.go). Central
// publishes a signed ExecRequest on node/<id>/exec; the agent checks it
// (signature by the pinned key, this node, not expired, session id never
// seen) and runs the command through the task driver's Execer. Frames
// from central arrive on node/<id>/exec/<session>/in, each signed and
// numbered: the Run goroutine verifies them and hands them to the
// session. Output goes back on .../out within ExecWindow bytes of credit.
//
//	Run goroutine: handleExecTopic → verify → session.ctl / session.stdin
//	session: control loop (acks, resize, close, keepalive, silence)
//	         stdin writer → the command;  command → outWriter → PublishWait
//
// An agent that was not enrolled has no pinned key: it trusts its broker
// for everything (its desired state is not verified either), and takes
// unsigned requests; expiry, replay and session checks still apply.

// Limits of exec sessions on one agent.
const (
	maxExecSessions = 4    // concurrent sessions
	maxExecSeen     = 1024 // session ids remembered against replays (until they expire)
	execQueue       = 64   // frames queued for a session (central's credits keep it far lower)
)

// execSessions tracks the running sessions and the request ids seen.
type execSessions struct {
	mu     sync.Mutex              // guards active and seen
	active map[string]*execSession // session id → session
	seen   map[string]int64        // session id → its request's expiry (unix ms)

	started atomic.Uint64 // commands started
	refused atomic.Uint64 // requests not run: malformed, unsigned, forged, expired, replayed, other node
	dropped atomic.Uint64 // input frames dropped: malformed, oversize, unsigned, forged, replayed, unknown session
}

// ExecCounters are the exec sessions' counters.
type ExecCounters struct {
	Started, Refused, Dropped uint64
}

// ExecCounters returns how many exec commands were started, requests
// refused and input frames dropped.
func (a *Agent) ExecCounters() ExecCounters {
	return ExecCounters{Started: a.exec.started.Load(), Refused: a.exec.refused.Load(), Dropped: a.exec.dropped.Load()}
}

type execSession struct {
	id      string
	lastSeq uint64 // highest input frame taken; Run goroutine only
	ctl     chan protocol.ExecIn
	stdin   chan []byte // nil chunk: stdin closed
	heard   atomic.Int64
	cancel  context.CancelFunc
}

// handleExecTopic handles a message on one of the node's exec topics; it
// reports whether topic was one. It runs on the Run goroutine.
func (a *Agent) handleExecTopic(topic string, payload []byte) bool {
	node, session, dir, ok := a.topics.ParseExec(topic)
	if !ok {
		return false
	}
	switch {
	case node != a.nodeID || dir == "out":
		return true
	case session == "":
		a.execRequest(payload)
	default:
		a.execInput(session, payload)
	}
	return true
}

func (a *Agent) execRefuse(why string, args ...any) {
	n := a.exec.refused.Add(1)
	a.log.Warn("exec request refused: "+why, append(args, "exec_refused", n)...)
}

func (a *Agent) execRequest(payload []byte) {
	var req protocol.ExecRequest
	if err := protocol.Decode(payload, &req); err != nil {
		a.execRefuse("malformed", "err", err, "bytes", len(payload))
		return
	}
	if err := protocol.CheckExecRequest(&req); err != nil {
		a.execRefuse("malformed", "err", err)
		return
	}
	if pub := a.pinned.key(); pub != nil {
		if err := protocol.VerifyExecRequest(&req, pub); err != nil {
			a.execRefuse("not signed by central's pinned key (a forgery on the broker?)", "session", req.Session, "err", err)
			return
		}
	}
	if req.NodeID != a.nodeID {
		a.execRefuse("for another node", "session", req.Session, "for", req.NodeID)
		return
	}
	// From here the request is central's: say why it is refused.
	out := a.topics.ExecOut(a.nodeID, req.Session)
	fail := func(msg string) {
		a.publish(out, 1, false, &protocol.ExecOut{V: protocol.Version, Session: req.Session, Seq: 1, Err: msg})
	}
	now := time.Now().UnixMilli()
	switch {
	case req.Expires < now:
		a.execRefuse("expired", "session", req.Session, "expired_ms_ago", now-req.Expires)
		fail(fmt.Sprintf("the request expired %d ms before it reached the node (a replay, or the node's clock is off: check NTP on it)", now-req.Expires))
		return
	case req.Expires > now+protocol.MaxExecTTL*1000:
		a.execRefuse("expires too far ahead", "session", req.Session, "ahead_ms", req.Expires-now)
		fail(fmt.Sprintf("the request expires %d s ahead, more than %d s (the node's clock is behind central's: check NTP on it)", (req.Expires-now)/1000, protocol.MaxExecTTL))
		return
	}
	a.exec.mu.Lock()
	if a.exec.seen == nil {
		a.exec.seen, a.exec.active = map[string]int64{}, map[string]*execSession{}
	}
	for id, exp := range a.exec.seen {
		if exp < now {
			delete(a.exec.seen, id)
		}
	}
	_, replayed := a.exec.seen[req.Session]
	full := len(a.exec.seen) >= maxExecSeen
	busy := len(a.exec.active) >= maxExecSessions
	if !replayed && !full && !busy {
		a.exec.seen[req.Session] = req.Expires
	}
	a.exec.mu.Unlock()
	switch {
	case replayed:
		a.execRefuse("replayed (its session was seen before)", "session", req.Session)
		return
	case full || busy:
		a.execRefuse("too many sessions", "session", req.Session)
		fail(fmt.Sprintf("too many exec sessions on this node (at most %d at once); try again later", maxExecSessions))
		return
	}
	h, driver, msg := a.execTarget(req.AllocID, req.Task)
	if msg != "" {
		a.execRefuse("no such running task", "session", req.Session, "alloc", req.AllocID, "task", req.Task)
		fail(msg)
		return
	}
	execer, can := h.(drivers.Execer)
	if !can {
		fail(ExecUnsupported(driver))
		return
	}
	ctx, cancel := context.WithCancel(a.runnerCtx)
	s := &execSession{id: req.Session, ctl: make(chan protocol.ExecIn, execQueue), stdin: make(chan []byte, execQueue), cancel: cancel}
	s.heard.Store(time.Now().UnixNano())
	a.exec.mu.Lock()
	a.exec.active[req.Session] = s
	a.exec.mu.Unlock()
	a.exec.started.Add(1)
	a.log.Info("exec session started", "session", req.Session, "alloc", req.AllocID, "task", req.Task, "command", req.Command, "tty", req.TTY)
	go func() {
		defer func() {
			cancel()
			a.exec.mu.Lock()
			delete(a.exec.active, req.Session)
			a.exec.mu.Unlock()
		}()
		a.runExec(ctx, s, execer, &req)
	}()
}

// ExecUnsupported is what an agent answers for a task whose driver cannot
// run commands in it.
func ExecUnsupported(driver string) string {
	if driver == "wasm" {
		return "wasm tasks cannot run other commands: a WebAssembly module has no shell or process to exec into; read its output with `central alloc logs` or restart it with `central alloc restart`"
	}
	return fmt.Sprintf("the %s driver cannot run commands in its tasks; use `central alloc logs` or `central alloc restart`", driver)
}

// execTarget finds the running task; msg says why not.
func (a *Agent) execTarget(allocID, task string) (drivers.Handle, string, string) {
	e := a.allocs[allocID]
	if e == nil {
		return nil, "", "allocation " + allocID + " is not on this node"
	}
	ti := slices.IndexFunc(e.rec.Alloc.Tasks, func(t protocol.Task) bool { return t.Name == task })
	if ti < 0 {
		return nil, "", "allocation " + allocID + " has no task " + task
	}
	driver := e.rec.Alloc.Tasks[ti].Driver
	if e.runner == nil {
		return nil, driver, "allocation " + allocID + " is not running on this node"
	}
	h := e.runner.TaskHandle(task)
	if h == nil {
		return nil, driver, "task " + task + " is not running (see `central alloc status`)"
	}
	return h, driver, ""
}

// execInput hands a verified frame from central to its session.
func (a *Agent) execInput(session string, payload []byte) {
	var f protocol.ExecIn
	drop := func(why string, args ...any) {
		n := a.exec.dropped.Add(1)
		a.log.Warn("exec input frame dropped: "+why, append(args, "session", session, "exec_dropped", n)...)
	}
	if err := protocol.Decode(payload, &f); err != nil || f.Session != session {
		drop("malformed", "err", err, "bytes", len(payload))
		return
	}
	if len(f.Stdin) > protocol.MaxExecChunk {
		drop("oversize", "bytes", len(f.Stdin))
		return
	}
	if pub := a.pinned.key(); pub != nil {
		if err := protocol.VerifyExecIn(&f, pub); err != nil {
			drop("not signed by central's pinned key (injected on the broker?)", "err", err)
			return
		}
	}
	a.exec.mu.Lock()
	s := a.exec.active[session]
	a.exec.mu.Unlock()
	switch {
	case s == nil:
		drop("no such session")
		return
	case f.Seq <= s.lastSeq:
		drop("replayed or duplicate", "seq", f.Seq, "last", s.lastSeq)
		return
	}
	s.lastSeq = f.Seq
	s.heard.Store(time.Now().UnixNano())
	if len(f.Stdin) > 0 {
		select {
		case s.stdin <- f.Stdin:
		default:
			drop("stdin over central's window: session ended")
			s.cancel()
			return
		}
	}
	if f.EOF {
		select {
		case s.stdin <- nil:
		default:
			s.cancel()
		}
	}
	f.Stdin = nil
	select {
	case s.ctl <- f:
	default:
		drop("too many frames queued: session ended")
		s.cancel()
	}
}

// runExec runs one session's command until it exits, central closes the
// session or goes silent.
func (a *Agent) runExec(ctx context.Context, s *execSession, execer drivers.Execer, req *protocol.ExecRequest) {
	w := &execOut{a: a, ctx: ctx, topic: a.topics.ExecOut(a.nodeID, s.id), session: s.id}
	w.credit = sync.NewCond(&w.mu)
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.credit.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	pr, pw := io.Pipe()
	defer pr.Close()
	resize := make(chan drivers.TermSize, 1)
	go a.execControl(ctx, s, w, resize)
	go func() { // stdin writer: blocks while the command does not read
		for {
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case chunk := <-s.stdin:
				if chunk == nil {
					pw.Close()
					return
				}
				if _, err := pw.Write(chunk); err != nil {
					return
				}
				w.ackStdin(uint64(len(chunk)))
			}
		}
	}()
	opts := drivers.ExecOptions{
		Command: req.Command, TTY: req.TTY, Size: drivers.TermSize{Width: req.Width, Height: req.Height},
		Resize: resize, Stdin: pr, Stdout: w.stream(false), Stderr: w.stream(true),
	}
	code, err := execer.Exec(ctx, opts)
	end := protocol.ExecOut{Exited: err == nil, ExitCode: code}
	switch {
	case err != nil && ctx.Err() != nil:
		a.log.Info("exec session ended by central or its silence", "session", s.id)
		return
	case err != nil:
		end.Err = err.Error()
	}
	a.log.Info("exec session ended", "session", s.id, "exit_code", code, "err", err)
	_ = w.send(&end)
}

// execControl applies central's control frames (acks, resizes, close)
// and keeps the session alive: a frame at least every ExecKeepalive, the
// end after ExecDeadAfter of central's silence.
func (a *Agent) execControl(ctx context.Context, s *execSession, w *execOut, resize chan drivers.TermSize) {
	tick := time.NewTicker(protocol.ExecKeepalive * time.Second / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-s.ctl:
			if f.Close {
				a.log.Info("exec session closed by the operator", "session", s.id)
				s.cancel()
				return
			}
			if f.Width > 0 && f.Height > 0 {
				select {
				case <-resize:
				default:
				}
				resize <- drivers.TermSize{Width: f.Width, Height: f.Height}
			}
			w.ackOut(f.Ack)
		case <-tick.C:
			if time.Since(time.Unix(0, s.heard.Load())) > protocol.ExecDeadAfter*time.Second {
				a.log.Warn("exec session ended: nothing from central", "session", s.id, "silent_for", protocol.ExecDeadAfter*time.Second)
				s.cancel()
				return
			}
			w.keepalive()
		}
	}
}

// execOut sends a session's frames in order, within central's credit.
type execOut struct {
	a       *Agent
	ctx     context.Context
	topic   string
	session string

	mu       sync.Mutex // guards the fields below; held while publishing, to keep Seq in order
	credit   *sync.Cond // signalled on acks and on the session's end
	seq      uint64
	sent     uint64 // output bytes sent
	acked    uint64 // output bytes central passed on
	inAck    uint64 // stdin bytes taken
	lastSend time.Time
}

var errSessionDone = errors.New("exec session ended")

func (w *execOut) ackOut(n uint64) {
	w.mu.Lock()
	if n > w.acked && n <= w.sent {
		w.acked = n
		w.credit.Broadcast()
	}
	w.mu.Unlock()
}

func (w *execOut) ackStdin(n uint64) {
	w.mu.Lock()
	w.inAck += n
	w.mu.Unlock()
	_ = w.send(&protocol.ExecOut{})
}

func (w *execOut) keepalive() {
	w.mu.Lock()
	quiet := time.Since(w.lastSend) >= protocol.ExecKeepalive*time.Second/2
	w.mu.Unlock()
	if quiet {
		_ = w.send(&protocol.ExecOut{})
	}
}

// send numbers f, adds the stdin ack and publishes it.
func (w *execOut) send(f *protocol.ExecOut) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sendLocked(f)
}

func (w *execOut) sendLocked(f *protocol.ExecOut) error {
	w.seq++
	f.V, f.Session, f.Seq, f.Ack = protocol.Version, w.session, w.seq, w.inAck
	w.lastSend = time.Now()
	return w.a.sess.PublishWait(w.topic, 1, false, w.a.encode(f), 10*time.Second)
}

// stream is an io.Writer of the command's stdout or stderr.
func (w *execOut) stream(stderr bool) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		n := 0
		for len(p) > 0 {
			chunk := p[:min(len(p), protocol.MaxExecChunk)]
			w.mu.Lock()
			for w.sent-w.acked+uint64(len(chunk)) > protocol.ExecWindow && w.ctx.Err() == nil {
				w.credit.Wait()
			}
			if w.ctx.Err() != nil {
				w.mu.Unlock()
				return n, errSessionDone
			}
			f := &protocol.ExecOut{Stdout: chunk}
			if stderr {
				f = &protocol.ExecOut{Stderr: chunk}
			}
			w.sent += uint64(len(chunk))
			err := w.sendLocked(f)
			w.mu.Unlock()
			if err != nil {
				return n, err
			}
			n += len(chunk)
			p = p[len(chunk):]
		}
		return n, nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
