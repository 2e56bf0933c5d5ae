package broker

import (
	"container/list"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection hygiene of the embedded broker's listener (docs/security.md):
// mochi's TCP listener returns from its accept loop on the first error, so
// one EMFILE would end the broker for good. guardListener, the net.Listener
// mochi is given, never returns an error but the listener's own closing:
// it retries the others with backoff. It also bounds the open connections
// (at the limit a new one evicts the oldest that has not sent CONNECT yet,
// or is closed at once when every place is held by a connected client,
// so a flood of idle sockets cannot keep agents out) and gives each new
// connection
// ConnectTimeout to finish its TLS handshake and send CONNECT; mochi
// replaces that deadline with the client's keepalive once connected.

// Defaults of Config.
const (
	DefaultMaxConnections = 16384
	DefaultConnectTimeout = 10 * time.Second
)

// Bounds of the accept retry's backoff.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// warnEvery is the least time between two log lines about the same kind of
// refusal, so a flood of connections cannot flood the log too.
const warnEvery = time.Minute

type guardListener struct {
	net.Listener
	max     int
	timeout time.Duration
	log     *slog.Logger
	count   *counters
	done    chan struct{} // closed by Close: stop any backoff
	closed  chan struct{} // capacity 1: a connection was closed (drain)

	closeOnce sync.Once
	lastWarn  [2]atomic.Int64 // unix ns of the last accept-error and over-limit warnings

	mu      sync.Mutex // guards conns, pending and guardConn.pend
	conns   map[*guardConn]struct{}
	pending *list.List // of *guardConn not connected yet, oldest first
}

func newGuardListener(ln net.Listener, max int, timeout time.Duration, log *slog.Logger, count *counters) *guardListener {
	return &guardListener{Listener: ln, max: max, timeout: timeout, log: log, count: count,
		done: make(chan struct{}), closed: make(chan struct{}, 1), conns: map[*guardConn]struct{}{}, pending: list.New()}
}

// Accept returns the next connection within the limit. It returns an
// error only once the listener is closed.
func (l *guardListener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return nil, err
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// EMFILE, ENFILE, ECONNABORTED, ENOBUFS...: wait and try again.
			l.count.acceptErrors.Add(1)
			if backoff == 0 {
				backoff = acceptBackoffMin
			} else if backoff *= 2; backoff > acceptBackoffMax {
				backoff = acceptBackoffMax
			}
			l.warn(0, "broker cannot accept connections; retrying", "err", err, "retry_in", backoff,
				"accept_errors", l.count.acceptErrors.Load())
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return nil, err
			}
			continue
		}
		backoff = 0
		g := &guardConn{Conn: c, l: l}
		var evicted *guardConn
		l.mu.Lock()
		if len(l.conns) >= l.max {
			if e := l.pending.Front(); e != nil {
				evicted = e.Value.(*guardConn)
				l.dropLocked(evicted)
			}
		}
		over := len(l.conns) >= l.max
		if !over {
			l.conns[g] = struct{}{}
			g.pend = l.pending.PushBack(g)
		}
		l.mu.Unlock()
		if evicted != nil {
			evicted.Conn.Close() // mochi's read fails and it closes evicted
			l.count.overLimit.Add(1)
			l.warn(1, "broker connection limit reached; closing the oldest connections that have not sent CONNECT", "max_connections", l.max,
				"refused", l.count.overLimit.Load())
		}
		if over {
			c.Close()
			l.count.overLimit.Add(1)
			l.warn(1, "broker connection limit reached; closing new connections", "max_connections", l.max,
				"refused", l.count.overLimit.Load())
			continue
		}
		c.SetDeadline(time.Now().Add(l.timeout))
		return g, nil
	}
}

// warn logs at most once per warnEvery for each kind.
func (l *guardListener) warn(kind int, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.lastWarn[kind].Load()
	if now-last < int64(warnEvery) || !l.lastWarn[kind].CompareAndSwap(last, now) {
		return
	}
	l.log.Warn(msg, args...)
}

// Close stops accepting and closes every connection still open: mochi has
// disconnected its clients by then, but not those that never sent CONNECT.
func (l *guardListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	for _, g := range l.snapshot(false) {
		g.Close()
	}
	return err
}

// drain stops accepting, ends the connections that have not sent CONNECT
// and waits (up to wait) until mochi has let go of them. mochi counts a
// connection in a WaitGroup only once its goroutine runs, and its Close
// waits on that group: closing while a connection is being set up races
// (the race detector sees it). After drain no connection is in that state.
func (l *guardListener) drain(wait time.Duration) {
	l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	for _, g := range l.snapshot(true) {
		g.Conn.SetDeadline(time.Now()) // mochi's read fails and it closes g
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for len(l.snapshot(true)) > 0 {
		select {
		case <-l.closed:
		case <-deadline.C:
			return
		}
	}
}

// snapshot lists the open connections; with pending, only those that have
// not sent CONNECT yet.
func (l *guardListener) snapshot(pending bool) []*guardConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*guardConn, 0, len(l.conns))
	for g := range l.conns {
		if !pending || !g.connected.Load() {
			out = append(out, g)
		}
	}
	return out
}

// open is the number of connections counted against the limit.
func (l *guardListener) open() int { return len(l.snapshot(false)) }

// dropLocked forgets g: it no longer holds a place under the limit.
func (l *guardListener) dropLocked(g *guardConn) {
	delete(l.conns, g)
	if g.pend != nil {
		l.pending.Remove(g.pend)
		g.pend = nil
	}
}

// guardConn frees its place under the limit when closed.
type guardConn struct {
	net.Conn
	l    *guardListener
	once sync.Once
	// connected is set when mochi first sets a deadline: it does so once
	// it has read a valid CONNECT (the keepalive replaces ConnectTimeout).
	connected atomic.Bool
	pend      *list.Element // in l.pending while not connected; guarded by l.mu
}

func (g *guardConn) SetDeadline(t time.Time) error {
	if !g.connected.Swap(true) {
		g.l.mu.Lock()
		if g.pend != nil {
			g.l.pending.Remove(g.pend)
			g.pend = nil
		}
		g.l.mu.Unlock()
	}
	return g.Conn.SetDeadline(t)
}

func (g *guardConn) Close() error {
	err := g.Conn.Close()
	g.once.Do(func() {
		g.l.mu.Lock()
		g.l.dropLocked(g)
		g.l.mu.Unlock()
		select {
		case g.l.closed <- struct{}{}:
		default:
		}
	})
	return err
}
