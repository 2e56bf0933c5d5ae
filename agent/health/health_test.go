package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProbe(t *testing.T) {
	var code atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		for {
			c, err := ln2.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	tests := []struct {
		name    string
		code    int
		check   Check
		wantErr string // "" passes
	}{
		{"http 200", 200, Check{Type: "http", Addr: addr, Path: "/health"}, ""},
		{"http 204 no leading slash", 204, Check{Type: "http", Addr: addr, Path: "health"}, ""},
		{"http 503", 503, Check{Type: "http", Addr: addr, Path: "/health"}, "503 Service Unavailable"},
		{"http 404 path", 200, Check{Type: "http", Addr: addr, Path: "/nope"}, "404"},
		{"http refused", 200, Check{Type: "http", Addr: tcpAddr}, "connection refused"},
		{"tcp ok", 200, Check{Type: "tcp", Addr: ln2.Addr().String()}, ""},
		{"tcp refused", 200, Check{Type: "tcp", Addr: tcpAddr}, "TCP connect"},
		{"unknown type", 200, Check{Type: "grpc", Addr: addr}, "unknown check type \"grpc\""},
		{"no address", 200, Check{Type: "tcp"}, "no address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code.Store(int32(tc.code))
			err := Probe(context.Background(), tc.check)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want pass, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	err := Probe(context.Background(), Check{Type: "http", Addr: strings.TrimPrefix(srv.URL, "http://"), Timeout: 50 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %s", d)
	}
}

// recorder collects the statuses Watch reports.
type recorder struct {
	mu  sync.Mutex // guards got
	got []Status
}

func (r *recorder) report(s Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
}

func (r *recorder) snapshot() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Status(nil), r.got...)
}

func TestWatchFlipsAndStops(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	done := Watch(ctx, []Check{{Type: "http", Addr: addr, Interval: 20 * time.Millisecond, Timeout: time.Second}}, rec.report)
	wantSeq := func(n int, healthy bool) {
		t.Helper()
		eventually(t, 5*time.Second, func() error {
			got := rec.snapshot()
			if len(got) != n || got[n-1].Healthy != healthy {
				return fmt.Errorf("reports %+v, want %d with the last healthy=%v", got, n, healthy)
			}
			return nil
		})
	}
	wantSeq(1, true)
	code.Store(500)
	wantSeq(2, false)
	if out := rec.snapshot()[1].Output; !strings.Contains(out, "500") {
		t.Fatalf("output %q does not name the status", out)
	}
	code.Store(200)
	wantSeq(3, true)
	cancel()
	// After cancel the check goroutine returns, and no probe follows: a
	// watch that is still running against another server probes three
	// more times meanwhile. At most one probe may have been in flight at
	// the server when the goroutine returned.
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch's goroutines still running 10 s after cancel")
	}
	n := hits.Load()
	var controlHits atomic.Int32
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { controlHits.Add(1) }))
	defer control.Close()
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	Watch(cctx, []Check{{Type: "http", Addr: strings.TrimPrefix(control.URL, "http://"), Interval: 20 * time.Millisecond, Timeout: time.Second}}, func(Status) {})
	eventually(t, 10*time.Second, func() error {
		if c := controlHits.Load(); c < 3 {
			return fmt.Errorf("control watch probed %d times", c)
		}
		return nil
	})
	if got := hits.Load(); got > n+1 {
		t.Fatalf("probes after the watch ended: %d hits when it ended, %d now", n, got)
	}
}

func TestWatchAllChecksMustPass(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	Watch(ctx, []Check{
		{Type: "http", Addr: strings.TrimPrefix(srv.URL, "http://"), Interval: 20 * time.Millisecond},
		{Type: "tcp", Addr: dead, Interval: 20 * time.Millisecond},
	}, rec.report)
	eventually(t, 5*time.Second, func() error {
		got := rec.snapshot()
		if len(got) == 0 {
			return fmt.Errorf("no report")
		}
		return nil
	})
	for _, s := range rec.snapshot() {
		if s.Healthy {
			t.Fatalf("healthy with a failing check: %+v", rec.snapshot())
		}
	}
}
