package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestGuestServesHTTPOnTaskPort(t *testing.T) {
	d := newDriver(t, Options{})
	port := freePort(t)
	cfg := newTask(t, guest(t, "serve"))
	cfg.Ports = []drivers.Port{{Label: "http", Value: port, To: 8080}}
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (string, error) {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %s", resp.Status)
		}
		return string(b), nil
	}
	for i := 0; i < 5; i++ {
		path := fmt.Sprintf("/req/%d", i)
		body, err := get(path)
		if err != nil {
			t.Fatalf("GET %s: %v (stderr %q)", path, err, readFile(t, cfg.StderrPath+".0"))
		}
		if want := "hello from wasm: " + path + "\n"; body != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
	if s := readFile(t, cfg.StdoutPath+".0"); !strings.Contains(s, "serving on fd 6") {
		t.Errorf("stdout = %q, want the listener on fd 6 (after 3 stdio and 3 dirs)", s)
	}
	// Stop ends a guest blocked in recv on an idle connection (or in
	// accept), and the port is free again.
	idle, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := h.Stop(5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, time.Second); res.Signal != 9 {
		t.Errorf("result %+v", res)
	}
	eventually(t, 5*time.Second, func() error {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		return l.Close()
	})
}

func TestPortInUseFailsStart(t *testing.T) {
	d := newDriver(t, Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := newTask(t, guest(t, "serve"))
	cfg.Ports = []drivers.Port{{Label: "http", Value: l.Addr().(*net.TCPAddr).Port}}
	h, err := d.Start(context.Background(), cfg)
	if err == nil {
		h.Stop(time.Second, "")
		t.Fatal("Start succeeded on a port in use")
	}
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), "http=") {
		t.Errorf("error = %v", err)
	}
}

func TestListenEnvName(t *testing.T) {
	for in, want := range map[string]string{"http": "TETHER_LISTEN_FD_HTTP", "my-api.v2": "TETHER_LISTEN_FD_MY_API_V2", "A9": "TETHER_LISTEN_FD_A9"} {
		if got := listenEnvName(in); got != want {
			t.Errorf("listenEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}
