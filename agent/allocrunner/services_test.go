package allocrunner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

func TestServicesRegisteredWhileRunning(t *testing.T) {
	drv := fake.New()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, DelayMs: 1, Mode: ModeFail})
	alloc.Ports = []protocol.Port{{Label: "http", Value: 23456, To: 8080}}
	alloc.Tasks[0].Services = []protocol.Service{
		{Name: "web", PortLabel: "http", Tags: []string{"v1", "${NOMAD_TASK_NAME}"}},
		{Name: "admin", PortLabel: "9000", Address: "${meta.admin_ip}"},
	}
	h := startRunnerOpts(t, alloc, drv, newMemStore(), nil, nil, func(c *Config) {
		c.Node.Attributes = map[string]string{"unique.network.ip-address": "10.0.0.5"}
		c.Node.Meta = map[string]string{"admin_ip": "10.9.9.9"}
	})
	u := h.waitStatus(protocol.AllocRunning)
	want := []protocol.ServiceReg{
		{Name: "web", Task: "t", PortLabel: "http", Address: "10.0.0.5", Port: 23456, Tags: []string{"v1", "t"}, Healthy: true},
		{Name: "admin", Task: "t", PortLabel: "9000", Address: "10.9.9.9", Port: 9000, Healthy: true},
	}
	if !reflect.DeepEqual(u.Services, want) {
		t.Fatalf("services %+v, want %+v", u.Services, want)
	}
	for _, up := range h.all() {
		if up.ClientStatus == protocol.AllocPending && len(up.Services) > 0 {
			t.Fatalf("services registered before the task ran: %+v", up)
		}
	}
	h.runner.Stop()
	u = h.waitStatus(protocol.AllocComplete)
	if len(u.Services) != 0 {
		t.Fatalf("services still registered after stop: %+v", u.Services)
	}
}

func TestServiceDeregisteredWhileTaskRestarts(t *testing.T) {
	drv := fake.New()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 5, IntervalMs: 60_000, DelayMs: 200, Mode: ModeFail})
	alloc.Tasks[0].Services = []protocol.Service{{Name: "web"}}
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)
	drv.Task("a1/t").Exit(1)
	eventually(t, 5*time.Second, func() error {
		u := h.last()
		if u.TaskStates["t"].State != protocol.TaskPending || len(u.Services) != 0 {
			return fmt.Errorf("state %s services %+v", u.TaskStates["t"].State, u.Services)
		}
		return nil
	})
	eventually(t, 5*time.Second, func() error {
		u := h.last()
		if u.TaskStates["t"].State != protocol.TaskRunning || len(u.Services) != 1 {
			return fmt.Errorf("state %s services %+v", u.TaskStates["t"].State, u.Services)
		}
		return nil
	})
}

func TestHTTPCheckFlipsHealth(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(su.Port())

	drv := fake.New()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, DelayMs: 1, Mode: ModeFail})
	alloc.Ports = []protocol.Port{{Label: "http", Value: port}}
	alloc.Tasks[0].Services = []protocol.Service{{
		Name: "web", PortLabel: "http", Address: "${attr.unique.network.ip-address}",
		Checks: []protocol.Check{{Type: "http", Path: "/health", IntervalMs: 20, TimeoutMs: 1000}},
	}}
	h := startRunnerOpts(t, alloc, drv, newMemStore(), nil, nil, func(c *Config) {
		c.Node.Attributes = map[string]string{"unique.network.ip-address": "127.0.0.1"}
	})
	// health history: one entry per update that carried the service.
	history := func() []bool {
		var out []bool
		for _, u := range h.all() {
			if len(u.Services) == 1 {
				if len(out) == 0 || out[len(out)-1] != u.Services[0].Healthy {
					out = append(out, u.Services[0].Healthy)
				}
			}
		}
		return out
	}
	waitHistory := func(want ...bool) {
		t.Helper()
		eventually(t, 5*time.Second, func() error {
			if got := history(); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("health history %v, want %v", got, want)
			}
			return nil
		})
	}
	waitHistory(false, true) // registered unhealthy, healthy after the first pass
	if s := h.last().Services[0]; s.Address != "127.0.0.1" || s.Port != port || s.Output != "" {
		t.Fatalf("registration %+v", s)
	}
	code.Store(503)
	waitHistory(false, true, false)
	if out := h.last().Services[0].Output; out == "" {
		t.Fatal("unhealthy without output")
	}
	code.Store(200)
	waitHistory(false, true, false, true)
	h.runner.Stop()
	u := h.waitStatus(protocol.AllocComplete)
	if len(u.Services) != 0 {
		t.Fatalf("after stop: %+v", u.Services)
	}
}

func TestUnknownPortLabelRegistersUnhealthy(t *testing.T) {
	drv := fake.New()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 1, DelayMs: 1, Mode: ModeFail})
	alloc.Tasks[0].Services = []protocol.Service{{Name: "web", PortLabel: "nope"}}
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	u := h.waitStatus(protocol.AllocRunning)
	if len(u.Services) != 1 || u.Services[0].Healthy || u.Services[0].Output == "" {
		t.Fatalf("services %+v", u.Services)
	}
}
