package api

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// HTTPLimits bounds what clients of the HTTP listener may hold: how many
// connections, and for how long a request may take to arrive, its answer
// to leave, and an idle keep-alive connection to stay open. Zero fields
// take the defaults below.
type HTTPLimits struct {
	MaxConns     int           // concurrent connections (config http_max_conns)
	ReadTimeout  time.Duration // a request, headers and body
	WriteTimeout time.Duration // an answer; blocking queries and log streams extend it
	IdleTimeout  time.Duration // a keep-alive connection between requests
}

// Defaults for HTTPLimits.
const (
	DefaultMaxConns     = 4096
	DefaultReadTimeout  = time.Minute
	DefaultWriteTimeout = time.Minute
	DefaultIdleTimeout  = time.Minute
	readHeaderTimeout   = 10 * time.Second
	// longTransfer is how long a snapshot upload or download may take.
	longTransfer = 30 * time.Minute
	// maxRequestBody bounds every request body but a snapshot's, before
	// any handler (or a follower forwarding a write) reads it; endpoints
	// bound their own bodies further.
	maxRequestBody = 8 << 20
	// maxReleaseBody bounds an agent release upload (one binary, with
	// room over protocol.MaxAgentBinary for nothing else).
	maxReleaseBody = 64<<20 + 1
)

func (l HTTPLimits) withDefaults() HTTPLimits {
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	return l
}

// NewHTTPServer returns the http.Server for central's HTTP listener ln and
// the listener to serve it on: ln bounded to l.MaxConns connections. The
// handler h is wrapped by SameOrigin and by per-request deadlines that
// let blocking queries, log streams and snapshots outlive WriteTimeout.
func NewHTTPServer(ln net.Listener, h http.Handler, l HTTPLimits) (*http.Server, net.Listener) {
	l = l.withDefaults()
	cl := &connLimiter{Listener: ln, max: l.MaxConns, conns: map[*limitedConn]struct{}{}}
	hs := &http.Server{
		Handler:           perRequest(l, SameOrigin(h)),
		ReadHeaderTimeout: min(readHeaderTimeout, l.ReadTimeout),
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		ConnState:         cl.connState,
	}
	return hs, cl
}

// perRequest bounds the request's body and extends the connection's
// deadlines for the requests that are long by design. net/http cancels a
// request's context when the read deadline passes, so a long request
// needs both extended.
func perRequest(l HTTPLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d time.Duration
		q := r.URL.Query()
		release := strings.HasPrefix(r.URL.Path, "/v1/agent/release/") // an agent binary, up or down (central/server/ota.go)
		if r.URL.Path != "/v1/operator/snapshot" && r.Body != nil {
			limit := int64(maxRequestBody)
			if release {
				limit = maxReleaseBody
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		switch {
		case r.URL.Path == "/v1/operator/snapshot", release:
			d = longTransfer
		case q.Get("follow") == "true" && strings.HasPrefix(r.URL.Path, "/v1/client/fs/logs/"):
			d = -1 // none: the stream extends its write deadline per write (flushWriter)
		case r.Method == http.MethodGet && q.Has("index"):
			d = maxWait + l.WriteTimeout // a blocking query (the API's or the UI's)
		}
		if d != 0 {
			rc := http.NewResponseController(w)
			t := time.Time{}
			if d > 0 {
				t = time.Now().Add(d)
			}
			_ = rc.SetReadDeadline(t) // not supported only under test recorders
			_ = rc.SetWriteDeadline(t)
		}
		next.ServeHTTP(w, r)
	})
}

// connLimiter is a listener that holds at most max connections. At the
// limit, a new connection first evicts the oldest one that is idle (a
// keep-alive between requests, or one that has not sent a request yet):
// a flood of idle connections cannot lock out a client with a request to
// make. With every connection busy, the new one is closed at once.
type connLimiter struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[*limitedConn]struct{} // open connections; guarded by mu
}

type limitedConn struct {
	net.Conn
	l     *connLimiter
	once  sync.Once
	idle  bool      // new or idle keep-alive; guarded by l.mu
	since time.Time // when idle was last set; guarded by l.mu
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite lets net/http half-close a connection after refusing a request
// whose body it did not read, so the answer arrives before the reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &limitedConn{Conn: nc, l: l, idle: true, since: time.Now()}
		l.mu.Lock()
		var evict *limitedConn
		if len(l.conns) >= l.max {
			for o := range l.conns {
				if o.idle && (evict == nil || o.since.Before(evict.since)) {
					evict = o
				}
			}
		}
		full := len(l.conns) >= l.max && evict == nil
		if !full {
			l.conns[c] = struct{}{}
		}
		l.mu.Unlock()
		if evict != nil {
			evict.Close()
		}
		if full {
			nc.Close()
			continue
		}
		return c, nil
	}
}

// connState is the http.Server's ConnState hook: it tells which
// connections are idle.
func (l *connLimiter) connState(nc net.Conn, st http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateNew, http.StateIdle:
		c.idle, c.since = true, time.Now()
	case http.StateActive:
		c.idle = false
	}
}

// open reports how many connections the limiter holds, for tests.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
