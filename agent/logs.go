package agent

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/drivers/logfile"
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
	var policy logfile.Policy
	if e := a.allocs[req.AllocID]; e != nil {
		ti := slices.IndexFunc(e.rec.Alloc.Tasks, func(t protocol.Task) bool { return t.Name == req.Task })
		if ti < 0 {
			fail("allocation " + req.AllocID + " has no task " + req.Task)
			return true
		}
		if l := e.rec.Alloc.Tasks[ti].Logs; l != nil {
			policy = logfile.Policy{MaxFiles: l.MaxFiles, MaxFileSize: int64(l.MaxFileSizeMB) << 20}
		}
		switch e.rec.Client.ClientStatus {
		case protocol.AllocComplete, protocol.AllocFailed, protocol.AllocLost:
			req.Follow = false // finished: nothing more will come, as Nomad's -f ends
		}
	} else if _, kept := a.gc.unlisted[req.AllocID]; kept {
		// Finished and no longer listed by central, its directory not yet
		// collected (gc.go): its logs are still there to read, and no
		// more will come. The task is known by its log files only.
		if !safeName(req.Task) || !a.hasLogs(req.AllocID, req.Task) {
			fail("allocation " + req.AllocID + " has no logs of a task " + req.Task + " on this node")
			return true
		}
		req.Follow = false
	} else {
		fail("allocation " + req.AllocID + " is not on this node (a finished allocation's logs stay until the agent's GC removes its directory: gc_max_allocs, gc_disk_usage_threshold, or gc_interval after central's garbage collection removed the allocation)")
		return true
	}
	if n >= maxLogStreams {
		fail("too many log streams on this node; try again later")
		return true
	}
	rel := "logs/" + req.Task + ".stdout"
	if req.Stderr {
		rel = "logs/" + req.Task + ".stderr"
	}
	shared := filepath.Join(a.cfg.DataDir, "allocs", req.AllocID, "alloc")
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
		if err := streamLog(ctx, shared, rel, policy, req, s, send); err != nil {
			a.log.Debug("log stream ended", "alloc", req.AllocID, "task", req.Task, "err", err)
		}
	}()
	return true
}

// hasLogs reports whether a finished allocation's directory holds a log
// file of task (read through an os.Root on its shared dir).
func (a *Agent) hasLogs(allocID, task string) bool {
	root, err := os.OpenRoot(filepath.Join(a.cfg.DataDir, "allocs", allocID, "alloc"))
	if err != nil {
		return false
	}
	defer root.Close()
	dir, err := root.Open("logs")
	if err != nil {
		return false
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(-1)
	return slices.ContainsFunc(names, func(n string) bool {
		return strings.HasPrefix(n, task+".stdout.") || strings.HasPrefix(n, task+".stderr.")
	})
}

// streamLog sends a task's log stream rel ("logs/web.stdout") of the
// alloc's shared dir, written with policy, as chunks, across its rotated
// files: from the oldest file kept, or from req.Lines lines before the
// end; then, when following, what is appended (through rotations) until
// ctx ends or the request is not renewed. The first chunk goes out at once, empty if there is nothing to
// send, so central knows the agent answered. A chunk's Data is valid only
// during send.
//
// Files are read through an os.Root on the shared dir, which the alloc's
// tasks may write: a log file or logs dir that a task replaced with a
// symlink out of it is refused, so `alloc logs` cannot be made to stream a
// file of the node that the task itself may not read (a wasm guest can
// plant a symlink in its preopened dir).
func streamLog(ctx context.Context, shared, rel string, policy logfile.Policy, req protocol.LogsRequest, s *logStream, send func(*protocol.LogsChunk) error) error {
	var seq uint64
	emit := func(data []byte, eof bool, msg string) error {
		c := &protocol.LogsChunk{Seq: seq, Data: data, EOF: eof, Err: msg}
		seq++
		return send(c)
	}
	root, err := os.OpenRoot(shared)
	for errors.Is(err, fs.ErrNotExist) && req.Follow {
		if seq == 0 {
			if err := emit(nil, false, ""); err != nil {
				return err
			}
		}
		if !waitPoll(ctx, s) {
			return emit(nil, true, "")
		}
		root, err = os.OpenRoot(shared)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return emit(nil, true, "") // nothing logged yet
	}
	if err != nil {
		return emit(nil, true, "open log: "+err.Error())
	}
	defer root.Close()
	r := logfile.NewReader(root, rel, policy)
	if req.Lines > 0 {
		if err := r.Tail(req.Lines); err != nil {
			return emit(nil, true, "read log: "+err.Error())
		}
	}
	buf := make([]byte, protocol.MaxLogChunk)
	settling := false // the last read ended in the middle of a rotation
	for {
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			return emit(buf[:n], true, "read log: "+err.Error())
		case n == len(buf):
			if err := emit(buf[:n], false, ""); err != nil {
				return err
			}
			continue
		case !req.Follow && (r.Settled() || settling):
			return emit(buf[:n], true, "")
		case n > 0 || seq == 0:
			if err := emit(buf[:n], false, ""); err != nil {
				return err
			}
		}
		settling = !r.Settled()
		if req.Follow && !waitPoll(ctx, s) {
			return emit(nil, true, "")
		}
		if !req.Follow && !waitRotation(ctx) {
			return emit(nil, true, "")
		}
	}
}

// waitRotation gives a rotation in progress time to finish.
func waitRotation(ctx context.Context) bool {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
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
