package partition

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoServer echoes lines back on 127.0.0.1 and counts accepted conns.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return e
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes line and reads the echo, waiting at most wait.
func roundTrip(c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyPass(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	if p.Mode() != Pass || p.Target() != e.ln.Addr().String() {
		t.Fatalf("mode %v target %s", p.Mode(), p.Target())
	}
	c := dial(t, p.Addr())
	r := bufio.NewReader(c)
	for i := range 3 {
		got, err := roundTrip(c, r, fmt.Sprintf("hello %d", i), 2*time.Second)
		if err != nil || got != fmt.Sprintf("hello %d\n", i) {
			t.Fatalf("round trip %d: %q %v", i, got, err)
		}
	}
}

func TestProxyBlackholeHoldsAndPassDelivers(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r, "before", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Blackhole(); err != nil {
		t.Fatal(err)
	}
	// The write succeeds and nothing comes back: no reset, no EOF.
	got, err := roundTrip(c, r, "during", 300*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("during blackhole: got %q, %v; want a read timeout", got, err)
	}
	// A new connection is accepted but never reaches the target.
	c2 := dial(t, p.Addr())
	r2 := bufio.NewReader(c2)
	if got, err := roundTrip(c2, r2, "new", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new conn during blackhole: got %q, %v; want a read timeout", got, err)
	}
	if n := e.accepted.Load(); n != 1 {
		t.Errorf("target accepted %d connections during blackhole, want 1 (the one from before)", n)
	}
	if err := p.Pass(); err != nil {
		t.Fatal(err)
	}
	// Held bytes arrive in order, as after a restored link.
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "during\n" {
		t.Fatalf("after pass: %q %v, want the held line", line, err)
	}
	c2.SetDeadline(time.Now().Add(2 * time.Second))
	if line, err := r2.ReadString('\n'); err != nil || line != "new\n" {
		t.Fatalf("new conn after pass: %q %v", line, err)
	}
	if got, err := roundTrip(c, r, "after", 2*time.Second); err != nil || got != "after\n" {
		t.Fatalf("after pass: %q %v", got, err)
	}
}

func TestProxyCutResetsAndRefuses(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r, "before", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadByte(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after cut: %v, want connection reset", err)
	}
	if c2, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c2.Close()
		t.Errorf("dial after cut succeeded, want refused")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after cut: %v, want connection refused", err)
	}
	if err := p.Pass(); err != nil {
		t.Fatal(err)
	}
	c3 := dial(t, p.Addr())
	if got, err := roundTrip(c3, bufio.NewReader(c3), "again", 2*time.Second); err != nil || got != "again\n" {
		t.Fatalf("after pass: %q %v", got, err)
	}
}

func TestProxyCloseEndsEverything(t *testing.T) {
	e := startEcho(t)
	p, err := NewProxy(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, bufio.NewReader(c), "x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	c2 := dial(t, p.Addr()) // waiting for Pass inside the proxy
	_ = c2
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a goroutine is stuck")
	}
	if err := p.Pass(); !errors.Is(err, ErrClosed) {
		t.Errorf("Pass after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c3, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c3.Close()
		t.Error("dial after Close succeeded")
	}
}

func TestProxyTargetDownResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p := newProxy(t, target)
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		return // reset before the dial returned: the client saw the failure as well
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read: %v, want the connection closed", err)
	}
}

func TestProxyHalfClose(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	fmt.Fprint(c, "bye")
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Errorf("after half close: %q %v, want the echo then EOF", got, err)
	}
}

func TestModeSet(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	if err := p.Set(Mode(7)); err == nil {
		t.Error("Set(7) accepted")
	}
	for _, m := range []Mode{Blackhole, Cut, Blackhole, Pass, Cut, Cut, Pass} {
		if err := p.Set(m); err != nil || p.Mode() != m {
			t.Fatalf("Set(%v): %v, mode %v", m, err, p.Mode())
		}
	}
	if Pass.String() != "pass" || Blackhole.String() != "blackhole" || Cut.String() != "cut" || Mode(9).String() != "Mode(9)" {
		t.Error("mode names")
	}
}
