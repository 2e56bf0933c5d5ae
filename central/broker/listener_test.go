package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// lowerFileLimit sets this process's RLIMIT_NOFILE soft limit to the
// descriptors open now plus spare, and restores it when the test ends.
func lowerFileLimit(t *testing.T, spare uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(len(fds)) + spare
	if lim.Cur > old.Cur {
		t.Fatalf("the file limit %d is already below %d", old.Cur, lim.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// floodEnv, when set in the environment ("addr count"), makes the test
// binary a flood of idle connections instead of running tests (TestMain):
// it opens them, prints how many, and holds them until stdin closes.
const floodEnv = "TETHER_TEST_IDLE_FLOOD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(floodEnv); spec != "" {
		os.Exit(idleFlood(spec))
	}
	os.Exit(m.Run())
}

func idleFlood(spec string) int {
	var addr string
	var n int
	if _, err := fmt.Sscan(spec, &addr, &n); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		return 2
	}
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the accept queue is full
		}
		conns = append(conns, c)
	}
	fmt.Println(len(conns))
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestBrokerAcceptsAgainAfterEMFILE is the idle-connection flood that ran
// central out of file descriptors: another process opens thousands of
// connections that send nothing, more than this process has descriptors
// for. The broker's accept fails with EMFILE (mochi's own loop returned
// for good on the first one); once the flood is gone a real client
// connects.
func TestBrokerAcceptsAgainAfterEMFILE(t *testing.T) {
	b, err := Run(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConnectTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lowerFileLimit(t, 1000)

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), floodEnv+"="+b.Addr().String()+" 3000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait() // already waited for unless the test failed early
	})
	eventually(t, 30*time.Second, func() error {
		if n := b.Counters().AcceptErrors; n < 1 {
			return fmt.Errorf("accept errors = %d, want EMFILE", n)
		}
		return nil
	})
	held := b.guard.open()
	if held > 1000 {
		t.Fatalf("the broker holds %d connections with 1000 descriptors", held)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flood: %v\n%s", err, out.String())
	}
	t.Logf("idle connections opened: %s; the broker held %d, then %d accepts failed", bytes.TrimSpace(out.Bytes()), held, b.Counters().AcceptErrors)
	eventually(t, 30*time.Second, func() error {
		_, err := connect(t, b.URL(), "", "")
		return err
	})
}

// dialIdle opens n TCP connections to addr that never send anything.
func dialIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// waitClosed waits until the broker closed every one of conns (a read
// sees EOF or a reset).
func waitClosed(t *testing.T, conns []net.Conn, within time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(within))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				errs <- fmt.Errorf("idle connection not closed by the broker within %v: %v", within, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestBrokerConnectionLimit opens 3,000 idle TCP connections to a broker
// allowing 1,000: each one over the limit evicts the oldest that has not
// sent CONNECT (2,000 closed at once and counted, 1,000 kept),
// and real clients still connect while the flood is held (before, the
// excess was refused: a flood renewed every CONNECT timeout kept agents
// out for good).
func TestBrokerConnectionLimit(t *testing.T) {
	const limit, idle = 1000, 3000
	b, err := Run(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxConnections: limit, ConnectTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conns := dialIdle(t, b.Addr().String(), idle)
	eventually(t, 30*time.Second, func() error {
		if n, open := b.Counters().OverLimit, b.guard.open(); n != idle-limit || open != limit {
			return fmt.Errorf("closed over the limit: %d, open %d; want %d and %d", n, open, idle-limit, limit)
		}
		return nil
	})
	// Every connection has been accepted (open + evicted = idle): count
	// those the broker still holds, each read in parallel with a deadline
	// long enough for a loaded machine (an evicted one ends at once).
	kept := func() int {
		var n atomic.Int32
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return int(n.Load())
	}
	if n := kept(); n != limit {
		t.Fatalf("%d idle connections still open, want %d", n, limit)
	}
	const clients = 5
	for i := range clients {
		if _, err := connectID(t, b.URL(), "", "", fmt.Sprintf("agent-%d", i)); err != nil {
			t.Fatalf("client %d during the flood: %v", i, err)
		}
	}
	if n := kept(); n != limit-clients {
		t.Fatalf("%d idle connections open, want %d (one evicted for each client)", n, limit-clients)
	}
	if n := b.Counters().OverLimit; n != idle-limit+clients {
		t.Fatalf("closed over the limit: %d, want %d", n, idle-limit+clients)
	}
}

// TestBrokerConnectionLimitKeepsConnectedClients: idle sockets never evict
// a client that has sent CONNECT; with every place held by connected
// clients a new connection is closed at once.
func TestBrokerConnectionLimitKeepsConnectedClients(t *testing.T) {
	const limit = 3
	b, err := Run(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxConnections: limit, ConnectTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var lost atomic.Int32
	for i := range limit {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(fmt.Sprintf("agent-%d", i)).
			SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).
			SetConnectionLostHandler(func(paho.Client, error) { lost.Add(1) })
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("client %d: %v", i, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(50) })
	}
	idle := dialIdle(t, b.Addr().String(), 10)
	waitClosed(t, idle, 10*time.Second)
	if _, err := connectID(t, b.URL(), "", "", "one-too-many"); err == nil {
		t.Fatal("a client connected with every place held by connected clients")
	}
	if n := lost.Load(); n != 0 {
		t.Fatalf("%d connected clients lost their connection", n)
	}
	if n := b.Counters().OverLimit; n < 11 {
		t.Fatalf("closed over the limit: %d, want at least 11", n)
	}
}

// TestBrokerClosesIdleBeforeConnect opens 2,000 TCP connections that never
// send CONNECT: the broker closes each after its CONNECT timeout, and a
// real client connects afterwards.
func TestBrokerClosesIdleBeforeConnect(t *testing.T) {
	b, err := Run(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conns := dialIdle(t, b.Addr().String(), 2000)
	waitClosed(t, conns, 60*time.Second)
	eventually(t, 10*time.Second, func() error {
		if n := b.guard.open(); n != 0 {
			return fmt.Errorf("%d connections still counted open", n)
		}
		return nil
	})
	if _, err := connect(t, b.URL(), "", ""); err != nil {
		t.Fatalf("a client after the idle connections: %v", err)
	}
}

// TestBrokerCloseEndsConnectionsBeforeCONNECT: Close does not wait for
// connections that never sent CONNECT (mochi's Close waits for every
// connection it was handed).
func TestBrokerCloseEndsConnectionsBeforeCONNECT(t *testing.T) {
	b, err := Run(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConnectTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	conns := dialIdle(t, b.Addr().String(), 100)
	eventually(t, 10*time.Second, func() error {
		if n := b.guard.open(); n != 100 {
			return fmt.Errorf("%d connections accepted, want 100", n)
		}
		return nil
	})
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting on connections that never sent CONNECT")
	}
	waitClosed(t, conns, 10*time.Second)
}
