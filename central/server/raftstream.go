package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// raftStream is the Raft transport's stream layer once TLS or a join
// secret is configured (raftauth.go makes its TLS settings). Every
// connection, inbound and outbound, completes a TLS handshake that
// authenticates the peer before Raft reads or writes a byte on it:
//
//	listener → acceptLoop → handshake (one goroutine each, at most
//	maxRaftHandshakes at once and maxRaftHandshakesPerIP from one address,
//	raftHandshakeTimeout each) → accepted → Accept (Raft)
//
// Raft's own accept loop only ever sees authenticated connections, and a
// peer that stalls its handshake holds one goroutine for at most the
// timeout, never the accept loop.
type raftStream struct {
	ln     net.Listener
	server *tls.Config // inbound handshakes: must ask for and verify a client certificate
	client *tls.Config // outbound handshakes: presents this server's certificate
	log    *slog.Logger

	accepted chan net.Conn // authenticated inbound connections
	done     chan struct{} // closed by Close
	once     sync.Once

	mu      sync.Mutex            // guards pending, perIP and closed
	pending map[net.Conn]struct{} // inbound connections still in their handshake
	perIP   map[string]int        // how many of them come from each remote IP
	closed  bool

	refused  atomic.Uint64 // inbound connections refused (metric)
	lastWarn atomic.Int64  // unix ns of the last refusal logged
}

const (
	// raftHandshakeTimeout bounds one TLS handshake, inbound or outbound.
	raftHandshakeTimeout = 5 * time.Second
	// maxRaftHandshakes bounds the inbound handshakes in progress, and
	// maxRaftHandshakesPerIP those from one address, so that one host
	// stalling handshakes cannot keep the other servers out; more
	// connections are closed at once (and counted as refused).
	maxRaftHandshakes      = 256
	maxRaftHandshakesPerIP = 16
	// raftRefusalLogEvery rate-limits the log line about refusals; the
	// metric counts every one.
	raftRefusalLogEvery = 10 * time.Second
)

var errTooManyHandshakes = errors.New("too many Raft handshakes in progress")

var _ raft.StreamLayer = (*raftStream)(nil)

// newRaftStream listens on addr and starts accepting.
func newRaftStream(addr string, server, client *tls.Config, log *slog.Logger) (*raftStream, error) {
	if server == nil || client == nil || (server.ClientAuth != tls.RequireAndVerifyClientCert && server.ClientAuth != tls.RequireAnyClientCert) {
		panic("BUG: the Raft stream layer needs TLS settings that require a client certificate")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &raftStream{ln: ln, server: server, client: client, log: log,
		accepted: make(chan net.Conn), done: make(chan struct{}), pending: map[net.Conn]struct{}{}, perIP: map[string]int{}}
	go r.acceptLoop()
	return r, nil
}

// acceptLoop hands each connection to its own handshake. It survives
// accept errors (such as running out of file descriptors), retrying with
// a backoff, and ends when the stream is closed.
func (r *raftStream) acceptLoop() {
	var delay time.Duration
	for {
		c, err := r.ln.Accept()
		if err != nil {
			select {
			case <-r.done:
				return
			default:
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			r.log.Warn("raft: accepting a connection failed; retrying", "err", err, "retry_in", delay)
			select {
			case <-r.done:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		if !r.admit(c) {
			c.Close()
			r.refuse(c.RemoteAddr(), errTooManyHandshakes)
			continue
		}
		go r.handshake(c)
	}
}

// admit records c as handshaking, unless that would pass a limit or the
// stream is closed.
func (r *raftStream) admit(c net.Conn) bool {
	ip := remoteIP(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.pending) >= maxRaftHandshakes || r.perIP[ip] >= maxRaftHandshakesPerIP {
		return false
	}
	r.pending[c] = struct{}{}
	r.perIP[ip]++
	return true
}

// release forgets c's handshake.
func (r *raftStream) release(c net.Conn) {
	ip := remoteIP(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, c)
	if r.perIP[ip]--; r.perIP[ip] <= 0 {
		delete(r.perIP, ip)
	}
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// handshake authenticates one inbound connection and passes it to Accept.
func (r *raftStream) handshake(raw net.Conn) {
	defer r.release(raw)
	c := tls.Server(raw, r.server)
	if err := handshakeWithin(c, raw, raftHandshakeTimeout); err != nil {
		c.Close()
		r.refuse(raw.RemoteAddr(), err)
		return
	}
	select {
	case r.accepted <- c:
	case <-r.done:
		c.Close()
	}
}

// handshakeWithin runs c's handshake with a deadline on raw, then clears it.
func handshakeWithin(c *tls.Conn, raw net.Conn, d time.Duration) error {
	if err := raw.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if err := c.Handshake(); err != nil {
		return err
	}
	return raw.SetDeadline(time.Time{})
}

// refuse counts a refused inbound connection and logs it, at most once per
// raftRefusalLogEvery.
func (r *raftStream) refuse(from net.Addr, err error) {
	n := r.refused.Add(1)
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last < int64(raftRefusalLogEvery) || !r.lastWarn.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn("raft: refused a connection that did not authenticate as a server of this cluster (every server needs the same tls ca_file, or the same join_secret)",
		"from", from.String(), "err", err, "refused_total", n)
}

// Refused is the number of inbound connections refused so far.
func (r *raftStream) Refused() uint64 { return r.refused.Load() }

// Accept returns the next authenticated inbound connection.
func (r *raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-r.accepted:
		return c, nil
	case <-r.done:
		return nil, net.ErrClosed
	}
}

// Close stops listening and ends the handshakes in progress.
func (r *raftStream) Close() error {
	err := net.ErrClosed
	r.once.Do(func() {
		close(r.done)
		err = r.ln.Close()
		r.mu.Lock()
		r.closed = true
		for c := range r.pending {
			c.Close()
		}
		r.mu.Unlock()
	})
	return err
}

// Addr is the bound address.
func (r *raftStream) Addr() net.Addr { return r.ln.Addr() }

// Dial connects to another server and completes the handshake within
// timeout (at most raftHandshakeTimeout for the handshake itself). The
// server's certificate must name the host of address.
func (r *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, err
	}
	cfg := r.client.Clone()
	if host, _, err := net.SplitHostPort(string(address)); err == nil {
		cfg.ServerName = host
	}
	hs := raftHandshakeTimeout
	if timeout > 0 {
		hs = min(hs, timeout)
	}
	c := tls.Client(raw, cfg)
	if err := handshakeWithin(c, raw, hs); err != nil {
		raw.Close()
		return nil, fmt.Errorf("raft: authenticate to %s: %w", address, err)
	}
	return c, nil
}
