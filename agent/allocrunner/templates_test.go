package allocrunner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

const apiTmpl = `{{ range service "api" }}{{ .Address }}:{{ .Port }}{{ end }}`

func apiSet(healthy bool, addrs ...string) protocol.ServiceSet {
	s := protocol.ServiceSet{V: protocol.Version, Name: "api"}
	for i, a := range addrs {
		s.Instances = append(s.Instances, protocol.ServiceInstance{ID: fmt.Sprint(i), Address: a, Port: 8080, Healthy: healthy})
	}
	return s
}

func templateAlloc(tmpls ...protocol.Template) *protocol.DesiredAlloc {
	a := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, IntervalMs: 60_000, DelayMs: 1, Mode: ModeFail})
	a.Tasks[0].Templates = tmpls
	return a
}

func startTemplated(t *testing.T, cache *svccache.Cache, tmpls ...protocol.Template) (*harness, *fake.Driver) {
	drv := fake.New()
	h := startRunnerOpts(t, templateAlloc(tmpls...), drv, newMemStore(), nil, nil, func(c *Config) {
		c.Services = cache
		c.TemplateWait = 200 * time.Millisecond
	})
	h.drv = drv
	return h, drv
}

func (h *harness) file(rel string) string {
	b, _ := os.ReadFile(filepath.Join(h.runner.AllocDir(), "t", rel))
	return string(b)
}

func (h *harness) waitFile(rel, want string) {
	h.t.Helper()
	eventually(h.t, 5*time.Second, func() error {
		if got := h.file(rel); got != want {
			return fmt.Errorf("%s = %q, want %q", rel, got, want)
		}
		return nil
	})
}

func TestTemplateRenderedBeforeStartAndRestartOnChange(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	h, drv := startTemplated(t, cache, protocol.Template{Data: apiTmpl, Destination: "local/api.conf", ChangeMode: "restart"})
	h.waitStatus(protocol.AllocRunning)
	if got := h.file("local/api.conf"); got != "10.0.0.1:8080" {
		t.Fatalf("rendered %q", got)
	}
	cache.Put(apiSet(true, "10.0.0.2"))
	h.waitFile("local/api.conf", "10.0.0.2:8080")
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 2 {
			return fmt.Errorf("%d starts, want 2", n)
		}
		if ts := h.last().TaskStates["t"]; ts.State != protocol.TaskRunning || ts.Restarts != 1 {
			return fmt.Errorf("task state %+v", ts)
		}
		return nil
	})
	types := eventTypes(h.last().TaskStates["t"])
	for _, want := range []string{protocol.EventTemplateRender, protocol.EventRestartSignal, protocol.EventRestarting} {
		if !slices.Contains(types, want) {
			t.Fatalf("events %v lack %q", types, want)
		}
	}
	// Not counted against the restart policy (1 attempt): two more template
	// restarts still leave the task running.
	cache.Put(apiSet(true, "10.0.0.3"))
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 3 {
			return fmt.Errorf("%d starts", n)
		}
		return nil
	})
	drv.Task("a1/t").Exit(1) // a real failure uses the one attempt
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 4 || h.last().ClientStatus != protocol.AllocRunning {
			return fmt.Errorf("%d starts, status %s", n, h.last().ClientStatus)
		}
		return nil
	})
}

func TestTemplateSignalAndNoop(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	h, drv := startTemplated(t, cache,
		protocol.Template{Data: apiTmpl, Destination: "local/sig.conf", ChangeMode: "signal", ChangeSignal: "SIGUSR1"},
		protocol.Template{Data: apiTmpl, Destination: "local/noop.conf", ChangeMode: "noop"},
	)
	h.waitStatus(protocol.AllocRunning)
	cache.Put(apiSet(true, "10.0.0.2"))
	h.waitFile("local/sig.conf", "10.0.0.2:8080")
	h.waitFile("local/noop.conf", "10.0.0.2:8080")
	eventually(t, 5*time.Second, func() error {
		if sigs := drv.Task("a1/t").Signals(); !slices.Equal(sigs, []string{"SIGUSR1"}) {
			return fmt.Errorf("signals %v", sigs)
		}
		return nil
	})
	if n := drv.Starts("a1/t"); n != 1 {
		t.Fatalf("signal mode restarted the task: %d starts", n)
	}
	// noop alone: the file changes, nothing is sent.
	h2, drv2 := startTemplated(t, svccache.New(nil, nil), protocol.Template{Data: apiTmpl, Destination: "local/noop.conf", ChangeMode: "noop"})
	h2.waitStatus(protocol.AllocRunning)
	h2.runner.cfg.Services.Put(apiSet(true, "10.0.0.7"))
	h2.waitFile("local/noop.conf", "10.0.0.7:8080")
	eventually(t, 5*time.Second, func() error {
		if !slices.Contains(eventTypes(h2.last().TaskStates["t"]), protocol.EventTemplateRender) {
			return fmt.Errorf("no Template Rendered event")
		}
		return nil
	})
	if drv2.Starts("a1/t") != 1 || len(drv2.Task("a1/t").Signals()) != 0 {
		t.Fatalf("noop acted: starts %d signals %v", drv2.Starts("a1/t"), drv2.Task("a1/t").Signals())
	}
}

func TestTemplateUnhealthyNotRendered(t *testing.T) {
	cache := svccache.New(nil, nil)
	set := apiSet(true, "10.0.0.1", "10.0.0.2")
	set.Instances[1].Healthy = false
	cache.Put(set)
	h, _ := startTemplated(t, cache, protocol.Template{Data: apiTmpl, Destination: "local/a"})
	h.waitStatus(protocol.AllocRunning)
	if got := h.file("local/a"); got != "10.0.0.1:8080" {
		t.Fatalf("rendered %q", got)
	}
}

func TestEnvTemplateSetsEnv(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	h, drv := startTemplated(t, cache, protocol.Template{Data: "API_ADDR=" + apiTmpl + "\nFOO=\"bar baz\"\n", Destination: "secrets/api.env", Env: true})
	h.waitStatus(protocol.AllocRunning)
	env := drv.Task("a1/t").Config().Env
	if env["API_ADDR"] != "10.0.0.1:8080" || env["FOO"] != "bar baz" || env["NOMAD_ALLOC_ID"] != "a1" {
		t.Fatalf("env %v", env)
	}
	cache.Put(apiSet(true, "10.0.0.2"))
	eventually(t, 5*time.Second, func() error {
		if got := drv.Task("a1/t").Config().Env["API_ADDR"]; got != "10.0.0.2:8080" {
			return fmt.Errorf("env after restart %q", got)
		}
		return nil
	})
}

func TestBadTemplateFailsTaskWithLine(t *testing.T) {
	tests := []struct {
		name, data, event, want string
	}{
		{"parse", "a\nb\n{{ range service \"api\" }", protocol.EventFailedValidate, "local/bad.conf:3"},
		{"exec", "a\n{{ index (service \"api\") 5 }}", protocol.EventSetupFailure, "local/bad.conf:2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, drv := startTemplated(t, svccache.New(nil, nil), protocol.Template{Data: tc.data, Destination: "local/bad.conf"})
			u := h.waitStatus(protocol.AllocFailed)
			ts := u.TaskStates["t"]
			last := ts.Events[len(ts.Events)-1]
			if last.Type != tc.event || !strings.Contains(last.Message, tc.want) {
				t.Fatalf("last event %+v, want %s with %q", last, tc.event, tc.want)
			}
			if drv.Starts("a1/t") != 0 {
				t.Fatal("task started despite a bad template")
			}
		})
	}
}

func TestReattachAppliesTemplateChangedWhileAgentDown(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	drv := fake.New()
	store := newMemStore()
	allocs := t.TempDir()
	alloc := templateAlloc(protocol.Template{Data: apiTmpl, Destination: "local/api.conf", ChangeMode: "signal", ChangeSignal: "SIGHUP"})
	mutate := func(c *Config) { c.Services, c.TemplateWait, c.AllocsDir = cache, 200*time.Millisecond, allocs }
	h := startRunnerOpts(t, alloc, drv, store, nil, nil, mutate)
	prev := h.waitStatus(protocol.AllocRunning)
	h.cancel() // the agent stops: the task keeps running
	<-h.runner.Done()
	saved, ok := store.get("a1", "t")
	if !ok {
		t.Fatal("no saved handle")
	}

	// Unchanged data: re-attaching sends nothing.
	h2 := startRunnerOpts(t, templateAlloc(alloc.Tasks[0].Templates...), drv, store, &prev, map[string]drivers.HandleState{"t": saved}, mutate)
	eventually(t, 5*time.Second, func() error {
		if !slices.Contains(eventTypes(h2.last().TaskStates["t"]), protocol.EventReattached) {
			return fmt.Errorf("not re-attached yet")
		}
		return nil
	})
	if sigs := drv.Task("a1/t").Signals(); len(sigs) != 0 {
		t.Fatalf("signals after an unchanged re-attach: %v", sigs)
	}
	h2.cancel()
	<-h2.runner.Done()

	// The service changed while the agent was down.
	cache.Put(apiSet(true, "10.0.0.2"))
	h3 := startRunnerOpts(t, templateAlloc(alloc.Tasks[0].Templates...), drv, store, &prev, map[string]drivers.HandleState{"t": saved}, mutate)
	eventually(t, 5*time.Second, func() error {
		if sigs := drv.Task("a1/t").Signals(); !slices.Equal(sigs, []string{"SIGHUP"}) {
			return fmt.Errorf("signals %v", sigs)
		}
		return nil
	})
	if got := h3.file("local/api.conf"); got != "10.0.0.2:8080" || drv.Starts("a1/t") != 1 {
		t.Fatalf("file %q starts %d", got, drv.Starts("a1/t"))
	}
}

// A task that exits and is restarted reads files rendered again at the
// restart: one removed meanwhile is written anew from the service cache.
func TestTemplateRenderedAgainOnRestart(t *testing.T) {
	cache := svccache.New(nil, nil)
	cache.Put(apiSet(true, "10.0.0.1"))
	h, drv := startTemplated(t, cache, protocol.Template{Data: apiTmpl, Destination: "local/api.conf", ChangeMode: "noop"})
	h.waitStatus(protocol.AllocRunning)
	if err := os.Remove(filepath.Join(h.runner.AllocDir(), "t", "local", "api.conf")); err != nil {
		t.Fatal(err)
	}
	drv.Task("a1/t").Exit(1)
	eventually(t, 5*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 2 {
			return fmt.Errorf("%d starts, want 2", n)
		}
		return nil
	})
	if got := h.file("local/api.conf"); got != "10.0.0.1:8080" {
		t.Fatalf("after the restart local/api.conf = %q, want it rendered again", got)
	}
}
