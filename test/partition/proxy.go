package partition

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Sentinel errors.
var (
	ErrClosed = errors.New("partition: proxy is closed")
)

// Mode is what a Proxy does with traffic.
type Mode int

const (
	// Pass forwards bytes both ways.
	Pass Mode = iota
	// Blackhole forwards nothing and tells nobody: bytes already sent are
	// held (as TCP keeps retransmitting behind an iptables DROP rule), new
	// connections are accepted but not connected to the target. Pass
	// delivers what was held, in order, as a restored link would.
	Blackhole
	// Cut resets every connection (RST, no FIN) and refuses new ones: the
	// listening port is closed until the next Pass or Blackhole.
	Cut
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Cut:
		return "cut"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// dialTimeout bounds a connection to the target.
const dialTimeout = 5 * time.Second

// Proxy is a TCP proxy on 127.0.0.1 between clients and one target whose
// link can be broken on demand. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string // fixed at NewProxy; re-bound after Cut

	mu     sync.Mutex // guards the fields below
	mode   Mode
	ln     net.Listener // nil while Cut
	links  map[*link]struct{}
	wake   chan struct{} // closed (and replaced) whenever mode changes
	closed bool

	wg sync.WaitGroup // accept loops and link goroutines
}

// link is one client connection and, once dialed, its target connection.
type link struct {
	client net.Conn
	server net.Conn // nil until the proxy passes traffic; guarded by Proxy.mu
	done   bool     // guarded by Proxy.mu
}

// NewProxy listens on 127.0.0.1:0 and forwards what arrives to target, in
// Pass mode.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("partition: listen for proxy to %s: %w", target, err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, links: map[*link]struct{}{}, wake: make(chan struct{})}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// Addr is the address clients dial instead of the target ("127.0.0.1:port").
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Pass forwards traffic again, delivering what Blackhole held.
func (p *Proxy) Pass() error { return p.set(Pass) }

// Blackhole stops all traffic silently; see the Blackhole mode.
func (p *Proxy) Blackhole() error { return p.set(Blackhole) }

// Cut resets every connection and refuses new ones; see the Cut mode.
func (p *Proxy) Cut() error { return p.set(Cut) }

// Set switches to mode m.
func (p *Proxy) Set(m Mode) error {
	if m != Pass && m != Blackhole && m != Cut {
		return fmt.Errorf("partition: unknown mode %d; use Pass, Blackhole or Cut", int(m))
	}
	return p.set(m)
}

func (p *Proxy) set(m Mode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if m == Cut {
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		for l := range p.links {
			p.resetLocked(l)
		}
	} else if p.ln == nil {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("partition: re-listen on %s after cut: %w", p.addr, err)
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
	p.mode = m
	close(p.wake)
	p.wake = make(chan struct{})
	return nil
}

// Close resets every connection, stops listening and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for l := range p.links {
		p.resetLocked(l)
	}
	close(p.wake)
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// resetLocked closes both sides of l with RST. p.mu must be held.
func (p *Proxy) resetLocked(l *link) {
	if l.done {
		return
	}
	l.done = true
	rst(l.client)
	if l.server != nil {
		rst(l.server)
	}
	delete(p.links, l)
}

// rst closes c so that the peer gets a reset, not a FIN.
func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Cut or Close
		}
		l := &link{client: c}
		p.mu.Lock()
		if p.closed || p.mode == Cut {
			p.mu.Unlock()
			rst(c)
			continue
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// waitPass blocks until traffic may flow on l. It returns false once l is
// closed.
func (p *Proxy) waitPass(l *link) bool {
	for {
		p.mu.Lock()
		if l.done || p.closed {
			p.mu.Unlock()
			return false
		}
		if p.mode == Pass {
			p.mu.Unlock()
			return true
		}
		wake := p.wake
		p.mu.Unlock()
		<-wake
	}
}

// serve connects l to the target once traffic may flow, then pumps both
// directions until both ends are done.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	if !p.waitPass(l) {
		return
	}
	s, err := net.DialTimeout("tcp", p.target, dialTimeout)
	p.mu.Lock()
	if err != nil || l.done {
		if s != nil {
			rst(s)
		}
		p.resetLocked(l)
		p.mu.Unlock()
		return
	}
	l.server = s
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(l, l.client, s) }()
	go func() { defer wg.Done(); p.pump(l, s, l.client) }()
	wg.Wait()
	p.mu.Lock()
	if !l.done {
		l.done = true
		l.client.Close()
		s.Close()
		delete(p.links, l)
	}
	p.mu.Unlock()
}

// pump copies src to dst, holding bytes (and end of stream) while the
// proxy is not in Pass mode.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitPass(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.abort(l)
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) && p.waitPass(l) {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
				return
			}
		}
		p.abort(l)
		return
	}
}

// abort closes l after a read or write error on either side.
func (p *Proxy) abort(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetLocked(l)
}
