package agent

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Task logs are sent only on request: central publishes a LogsRequest on
// node/<id>/logs while someone reads, and the agent answers with chunks on
// node/<id>/logs/<request id>. Each request is one goroutine that reads
// the task's log file; a follow polls the file and ends when central
// cancels it or stops renewing it (protocol.LogFollowTTL).

// maxLogStreams bounds concurrent log requests on one agent.
const maxLogStreams = 8

// logPollInterval is how often a follow checks its file for new data.
const logPollInterval = 250 * time.Millisecond

// logStreams tracks the running log requests.
type logStreams struct {
	mu     sync.Mutex            // guards active
	active map[string]*logStream // request ID → stream
}

type logStream struct {
	cancel  context.CancelFunc
	renewed atomic.Int64 // unix ns of the request or its last renewal
}

// handleLogsTopic handles a message on the node's logs request topic. It
// reports whether topic was one; it runs on the Run goroutine.
func (a *Agent) handleLogsTopic(topic string, payload []byte) bool {
	node, reqID, ok := a.topics.ParseLogs(topic)
	if !ok || reqID != "" {
		return false
	}
	if node != a.nodeID {
		return true
	}
	var req protocol.LogsRequest
	if err := protocol.Decode(payload, &req); err != nil || !protocol.ValidID(req.ID) {
		a.malformed.Add(1)
		a.log.Warn("malformed logs request dropped", "err", err, "bytes", len(payload))
		return true
	}
	a.logs.mu.Lock()
	if a.logs.active == nil {
		a.logs.active = map[string]*logStream{}
	}
	cur := a.logs.active[req.ID]
	n := len(a.logs.active)
	a.logs.mu.Unlock()
	switch {
	case req.Cancel:
		if cur != nil {
			cur.cancel()
		}
		return true
	case cur != nil:
		cur.renewed.Store(time.Now().UnixNano())
		return true
	}
	reply := a.topics.LogsReply(a.nodeID, req.ID)
	fail := func(msg string) {
		a.publish(reply, 1, false, &protocol.LogsChunk{V: protocol.Version, ID: req.ID, EOF: true, Err: msg})
	}
	e := a.allocs[req.AllocID]
	if e == nil {
		fail("allocation " + req.AllocID + " is not on this node")
		return true
	}
	if !slices.ContainsFunc(e.rec.Alloc.Tasks, func(t protocol.Task) bool { return t.Name == req.Task }) {
		fail("allocation " + req.AllocID + " has no task " + req.Task)
		return true
	}
	if n >= maxLogStreams {
		fail("too many log streams on this node; try again later")
		return true
	}
	kind := ".stdout.0"
	if req.Stderr {
		kind = ".stderr.0"
	}
	path := filepath.Join(a.cfg.DataDir, "allocs", req.AllocID, "alloc", "logs", req.Task+kind)
	ctx, cancel := context.WithCancel(a.runnerCtx)
	s := &logStream{cancel: cancel}
	s.renewed.Store(time.Now().UnixNano())
	a.logs.mu.Lock()
	a.logs.active[req.ID] = s
	a.logs.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			a.logs.mu.Lock()
			delete(a.logs.active, req.ID)
			a.logs.mu.Unlock()
		}()
		send := func(c *protocol.LogsChunk) error {
			c.V, c.ID = protocol.Version, req.ID
			return a.sess.PublishWait(reply, 1, false, a.encode(c), 10*time.Second)
		}
		if err := streamLog(ctx, path, req, s, send); err != nil {
			a.log.Debug("log stream ended", "alloc", req.AllocID, "task", req.Task, "err", err)
		}
	}()
	return true
}

// openLog opens <alloc>/alloc/logs/<file> through an os.Root on the
// alloc's shared dir, which its tasks may write: a log file (or logs dir)
// that a task replaced with a symlink out of it is refused, so `alloc
// logs` cannot be made to stream a file of the node that the task itself
// may not read (a wasm guest can plant a symlink in its preopened dir).
func openLog(path string) (*os.File, error) {
	logs := filepath.Dir(path)
	root, err := os.OpenRoot(filepath.Dir(logs))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(filepath.Join(filepath.Base(logs), filepath.Base(path)))
}

// streamLog sends a log file as chunks: from the start, or from req.Lines
// lines before the end; then, when following, what is appended until ctx
// ends or the request is not renewed. The first chunk goes out at once,
// empty if there is nothing to send, so central knows the agent answered.
// A chunk's Data is valid only during send.
func streamLog(ctx context.Context, path string, req protocol.LogsRequest, s *logStream, send func(*protocol.LogsChunk) error) error {
	var seq uint64
	emit := func(data []byte, eof bool, msg string) error {
		c := &protocol.LogsChunk{Seq: seq, Data: data, EOF: eof, Err: msg}
		seq++
		return send(c)
	}
	f, err := openLog(path)
	for errors.Is(err, fs.ErrNotExist) && req.Follow {
		if seq == 0 {
			if err := emit(nil, false, ""); err != nil {
				return err
			}
		}
		if !waitPoll(ctx, s) {
			return emit(nil, true, "")
		}
		f, err = openLog(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return emit(nil, true, "") // nothing logged yet
	}
	if err != nil {
		return emit(nil, true, "open log: "+err.Error())
	}
	defer f.Close()
	var off int64
	if req.Lines > 0 {
		if off, err = tailOffset(f, req.Lines); err != nil {
			return emit(nil, true, "read log: "+err.Error())
		}
	}
	buf := make([]byte, protocol.MaxLogChunk)
	for {
		n, err := f.ReadAt(buf, off)
		off += int64(n)
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			return emit(buf[:n], true, "read log: "+err.Error())
		case n == len(buf):
			if err := emit(buf[:n], false, ""); err != nil {
				return err
			}
			continue
		case !req.Follow:
			return emit(buf[:n], true, "")
		case n > 0 || seq == 0:
			if err := emit(buf[:n], false, ""); err != nil {
				return err
			}
		}
		if !waitPoll(ctx, s) {
			return emit(nil, true, "")
		}
		if st, err := f.Stat(); err == nil && st.Size() < off {
			off = 0 // truncated: start over
		}
	}
}

// waitPoll waits one poll interval; false means stop following.
func waitPoll(ctx context.Context, s *logStream) bool {
	t := time.NewTimer(logPollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	return time.Since(time.Unix(0, s.renewed.Load())) < protocol.LogFollowTTL*time.Second
}

// tailOffset returns the offset of the start of the last n lines of f (a
// final newline does not start an empty line).
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if end == 0 {
		return 0, nil
	}
	const block = 8 << 10
	buf := make([]byte, block)
	pos := end
	seen := 0
	skipLast := true // the newline that ends the last line
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		chunk := buf[:size]
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				skipLast = false
				continue
			}
			if skipLast && pos+int64(i) == end-1 {
				skipLast = false
				continue
			}
			seen++
			if seen == n {
				return pos + int64(i) + 1, nil
			}
		}
	}
	return 0, nil
}
