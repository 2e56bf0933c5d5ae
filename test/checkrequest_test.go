package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// docs/services.md (Health): an http check's method, headers and body go
// from the job file through central and the agent to the service. The
// service here is a server of the test's own, on the group's static port:
// it answers 2xx only to the request the job describes, so the instance is
// healthy only if that request arrived.
func TestCheckSendsMethodHeaderAndBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var mu sync.Mutex // guards last
	var last string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<10))
		got := fmt.Sprintf("%s %s host=%s auth=%s body=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("Authorization"), b)
		mu.Lock()
		last = got
		mu.Unlock()
		if got != `POST /rpc host=api.internal auth=Basic eDp5 body={"ping":1}` {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := startCentral(t, clusterOpts{})
	c.startAgent("chk")
	c.waitNode("chk", "ready", 30*time.Second)
	src := fmt.Sprintf(`job "probe" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" { static = %d }
    }
    service {
      name = "probe"
      port = "http"
      check {
        type     = "http"
        path     = "/rpc"
        method   = "POST"
        body     = "{\"ping\":1}"
        header {
          Host          = ["api.internal"]
          Authorization = ["Basic eDp5"]
        }
        interval = "300ms"
        timeout  = "1s"
      }
    }
    task "idle" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, port)
	path := filepath.Join(t.TempDir(), "probe.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", "-detach", path); code != 0 {
		t.Fatalf("job submit exited %d: %s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		if inst := c.service("probe", false); len(inst) != 1 || !inst[0].Healthy {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("probe instances %+v; last request the service saw: %q", c.service("probe", true), last)
		}
		return nil
	})
}
