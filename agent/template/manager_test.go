package template

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/protocol"
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

func set(name string, healthy bool, addrs ...string) protocol.ServiceSet {
	s := protocol.ServiceSet{V: protocol.Version, Name: name}
	for i, a := range addrs {
		s.Instances = append(s.Instances, protocol.ServiceInstance{ID: fmt.Sprint(i), Address: a, Port: 8080, Healthy: healthy})
	}
	return s
}

func newManager(t *testing.T, cache *svccache.Cache, tmpls ...protocol.Template) (*Manager, Paths) {
	t.Helper()
	p := testPaths(t)
	env := taskenv.Build(&protocol.DesiredAlloc{ID: "a-1", JobID: "shop"}, &protocol.Task{Name: "web"},
		taskenv.Node{ID: "n1", Name: "pi", Attributes: map[string]string{"cpu.arch": "arm64"}, Meta: map[string]string{"rack": "r1"}},
		taskenv.Dirs{LocalDir: p.TaskDir + "/local"}, nil)
	m, err := New(Config{
		Templates: tmpls, Paths: p, Env: env, Services: cache, FirstWait: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Splay:  func(time.Duration) time.Duration { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, p
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const apiTmpl = `{{ range service "api" }}{{ .Address }}:{{ .Port }}{{ end }}`

func TestManagerPrerenderAndChangeModes(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(set("api", true, "10.0.0.1"))
	m, p := newManager(t, cache,
		protocol.Template{Data: apiTmpl, Destination: "local/restart.conf", ChangeMode: "restart"},
		protocol.Template{Data: apiTmpl, Destination: "local/signal.conf", ChangeMode: "signal", ChangeSignal: "SIGUSR1"},
		protocol.Template{Data: apiTmpl, Destination: "local/noop.conf", ChangeMode: "noop"},
		protocol.Template{Data: `{{ env "attr.cpu.arch" }} {{ env "meta.rack" }} {{ env "node.unique.name" }} {{ env "NOMAD_ALLOC_ID" }}`, Destination: "local/static.conf"},
	)
	if _, err := m.Prerender(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(p.TaskDir, "local/restart.conf")); got != "10.0.0.1:8080" {
		t.Fatalf("first render %q", got)
	}
	if got := readFile(t, filepath.Join(p.TaskDir, "local/static.conf")); got != "arm64 r1 pi a-1" {
		t.Fatalf("env render %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	cache.Put(set("api", true, "10.0.0.2"))
	var a Action
	select {
	case a = <-m.Actions():
	case <-time.After(5 * time.Second):
		t.Fatal("no action after a service change")
	}
	if !a.Restart || len(a.Signals) != 1 || a.Signals[0] != "SIGUSR1" || len(a.Changed) != 3 || len(a.Errors) != 0 {
		t.Fatalf("action %+v", a)
	}
	for _, f := range []string{"restart", "signal", "noop"} {
		if got := readFile(t, filepath.Join(p.TaskDir, "local", f+".conf")); got != "10.0.0.2:8080" {
			t.Fatalf("%s re-render %q", f, got)
		}
	}
	// Unhealthy instances are not rendered.
	cache.Put(set("api", false, "10.0.0.2"))
	select {
	case a = <-m.Actions():
	case <-time.After(5 * time.Second):
		t.Fatal("no action after instances went unhealthy")
	}
	if got := readFile(t, filepath.Join(p.TaskDir, "local/noop.conf")); got != "" {
		t.Fatalf("unhealthy instance rendered: %q", got)
	}
}

func TestManagerNoopOnlyDeliversEventWithoutAction(t *testing.T) {
	cache := svccache.New(nil, nil)
	m, _ := newManager(t, cache, protocol.Template{Data: apiTmpl, Destination: "local/noop.conf", ChangeMode: "noop"})
	if _, err := m.Prerender(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	cache.Put(set("api", true, "10.0.0.3"))
	a := <-m.Actions()
	if a.Restart || len(a.Signals) != 0 || len(a.Changed) != 1 {
		t.Fatalf("noop action %+v", a)
	}
}

func TestManagerSplayDelaysAction(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(set("api", true, "10.0.0.1"))
	p := testPaths(t)
	var asked time.Duration
	m, err := New(Config{
		Templates: []protocol.Template{{Data: apiTmpl, Destination: "local/a", SplayMs: 5000}},
		Paths:     p, Services: cache, FirstWait: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Splay:  func(max time.Duration) time.Duration { asked = max; return 100 * time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Prerender(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	start := time.Now()
	cache.Put(set("api", true, "10.0.0.2"))
	a := <-m.Actions()
	if d := time.Since(start); d < 100*time.Millisecond || !a.Restart {
		t.Fatalf("action after %s: %+v", d, a)
	}
	if asked != 5*time.Second {
		t.Fatalf("splay asked with max %s, want 5s", asked)
	}
}

func TestManagerWaitsForFirstData(t *testing.T) {
	cache := svccache.New(nil, nil)
	p := testPaths(t)
	m, err := New(Config{
		Templates: []protocol.Template{{Data: apiTmpl, Destination: "local/a"}},
		Paths:     p, Services: cache, FirstWait: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() { _, err := m.Prerender(context.Background()); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("prerender returned before any data: %v", err)
	default:
	}
	cache.Put(set("api", true, "10.0.0.5"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("prerender still waiting after the data arrived")
	}
	if got := readFile(t, filepath.Join(p.TaskDir, "local/a")); got != "10.0.0.5:8080" {
		t.Fatalf("rendered %q", got)
	}
}

func TestManagerEnvTemplate(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(set("api", true, "10.0.0.1"))
	m, _ := newManager(t, cache,
		protocol.Template{Data: `API={{ range service "api" }}{{ .Address }}:{{ .Port }}{{ end }}` + "\nMODE=prod\n", Destination: "secrets/env", Env: true},
		protocol.Template{Data: "MODE=override\n", Destination: "local/env2", Env: true},
	)
	if _, err := m.Prerender(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := m.Env()
	if env["API"] != "10.0.0.1:8080" || env["MODE"] != "override" {
		t.Fatalf("env %v", env)
	}
}

func TestManagerBadEnvTemplateFails(t *testing.T) {
	m, _ := newManager(t, svccache.New(nil, nil), protocol.Template{Data: "A=1\nnot a pair\n", Destination: "local/env", Env: true})
	_, err := m.Prerender(context.Background())
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
}

func TestManagerRuntimeErrorKeepsOldFile(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(set("api", true, "10.0.0.1"))
	// index 1 fails once there is only one instance.
	m, p := newManager(t, cache, protocol.Template{Data: `{{ with service "api" }}{{ (index . 0).Address }}{{ if gt (len .) 1 }}{{ (index . 1).Address }}{{ end }}{{ end }}{{ if eq (len (service "api")) 3 }}{{ index (service "api") 9 }}{{ end }}`, Destination: "local/a"})
	if _, err := m.Prerender(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	cache.Put(set("api", true, "10.0.0.1", "10.0.0.2", "10.0.0.3"))
	a := <-m.Actions()
	if len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "local/a:1") || a.Restart {
		t.Fatalf("action %+v", a)
	}
	if got := readFile(t, filepath.Join(p.TaskDir, "local/a")); got != "10.0.0.1" {
		t.Fatalf("file after a failed render %q", got)
	}
}
