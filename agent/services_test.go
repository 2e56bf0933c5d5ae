package agent

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

const apiTmpl = `{{ range service "api" }}{{ .Address }}:{{ .Port }}{{ end }}`

func apiSet(index uint64, addrs ...string) *protocol.ServiceSet {
	s := &protocol.ServiceSet{V: protocol.Version, Name: "api", Index: index}
	for i, a := range addrs {
		s.Instances = append(s.Instances, protocol.ServiceInstance{ID: fmt.Sprint(i), Address: a, Port: 8080, NodeID: "n", AllocID: "x", Healthy: true})
	}
	return s
}

func templatedAlloc(id string, mode string) protocol.DesiredAlloc {
	a := serviceAlloc(id, nil)
	a.Tasks[0].Templates = []protocol.Template{{Data: apiTmpl, Destination: "local/api.conf", ChangeMode: mode}}
	return a
}

func renderedFile(dir, alloc string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "allocs", alloc, "t", "local", "api.conf"))
	return string(b)
}

func waitRendered(t testing.TB, dir, alloc, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := renderedFile(dir, alloc); got != want {
			return fmt.Errorf("rendered %q, want %q", got, want)
		}
		return nil
	})
}

// lastServices is the service set of the alloc's latest update.
func lastServices(ups []protocol.AllocUpdate, alloc string) (svcs []protocol.ServiceReg, found bool) {
	for _, u := range ups {
		if u.AllocID == alloc {
			svcs, found = u.Services, true
		}
	}
	return svcs, found
}

func TestServiceRegistrationInUpdates(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	a := startAgent(t, t.TempDir(), b.url(), drv)
	id := a.NodeID()
	alloc := serviceAlloc("a1", nil)
	alloc.Ports = []protocol.Port{{Label: "http", Value: 24000}}
	alloc.Tasks[0].Services = []protocol.Service{{Name: "web", PortLabel: "http", Tags: []string{"v1"}}}
	b.publish(topics.Desired(id), desired(id, 1, alloc), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	eventually(t, 5*time.Second, func() error {
		svcs, _ := lastServices(b.updates(id), "a1")
		if len(svcs) != 1 || svcs[0].Name != "web" || svcs[0].Port != 24000 || !svcs[0].Healthy ||
			svcs[0].Address != a.fp.Attributes["unique.network.ip-address"] || !slices.Equal(svcs[0].Tags, []string{"v1"}) {
			return fmt.Errorf("services %+v", svcs)
		}
		return nil
	})
	stop := alloc
	stop.DesiredStatus = protocol.DesiredStop
	b.publish(topics.Desired(id), desired(id, 2, stop), true)
	waitStatus(t, b, id, "a1", protocol.AllocComplete)
	if svcs, _ := lastServices(b.updates(id), "a1"); len(svcs) != 0 {
		t.Fatalf("services after stop %+v", svcs)
	}
}

func TestTemplateFromRetainedServiceSet(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startAgent(t, dir, b.url(), drv)
	id := a.NodeID()
	b.publish(topics.Service("api"), apiSet(1, "10.0.0.1"), true)
	b.publish(topics.Desired(id), desired(id, 1, templatedAlloc("a1", "restart")), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	if got := renderedFile(dir, "a1"); got != "10.0.0.1:8080" {
		t.Fatalf("rendered before start: %q", got)
	}
	b.publish(topics.Service("api"), apiSet(2, "10.0.0.2"), true)
	waitRendered(t, dir, "a1", "10.0.0.2:8080")
	eventually(t, 10*time.Second, func() error {
		if n := drv.Starts("a1/t"); n != 2 {
			return fmt.Errorf("%d starts after a change with change_mode restart", n)
		}
		return nil
	})
	// Malformed payloads are counted and dropped; the file stays.
	b.publish(topics.Service("api"), []byte("\xff junk"), true)
	eventually(t, 5*time.Second, func() error {
		if c := a.Counters(); c.SvcMalformed != 1 {
			return fmt.Errorf("counters %+v", c)
		}
		return nil
	})
	// An empty retained payload means no instances.
	b.publish(topics.Service("api"), []byte{}, true)
	waitRendered(t, dir, "a1", "")
}

func TestTemplateRendersFromCacheWithBrokerGone(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	drv := fake.New()
	dir := t.TempDir()
	a := startAgent(t, dir, b.url(), drv)
	id := a.NodeID()
	b.publish(topics.Service("api"), apiSet(1, "10.0.0.9"), true)
	b.publish(topics.Desired(id), desired(id, 1, templatedAlloc("a1", "restart")), true)
	waitStatus(t, b, id, "a1", protocol.AllocRunning)
	waitRendered(t, dir, "a1", "10.0.0.9:8080")
	a.stop(t)
	b.close()
	drv.Forget() // the device rebooted: its tasks are gone
	if err := os.Remove(filepath.Join(dir, "allocs", "a1", "t", "local", "api.conf")); err != nil {
		t.Fatal(err)
	}

	startAgent(t, dir, b.url(), drv) // the broker is gone
	eventually(t, 10*time.Second, func() error {
		if drv.Starts("a1/t") != 2 || drv.Task("a1/t").Exited() {
			return fmt.Errorf("starts %d", drv.Starts("a1/t"))
		}
		return nil
	})
	if got := renderedFile(dir, "a1"); got != "10.0.0.9:8080" {
		t.Fatalf("rendered from cache: %q", got)
	}
}

// BenchmarkServiceSetToTemplate measures the time from publishing a new
// ServiceSet on the broker to the template file holding the new content
// (change_mode noop), over loopback. Run with -benchtime=20x; it reports
// the median and the worst.
func BenchmarkServiceSetToTemplate(b *testing.B) {
	br := startBroker(b, "127.0.0.1:0")
	drv := fake.New()
	dir := b.TempDir()
	a := startAgent(b, dir, br.url(), drv)
	id := a.NodeID()
	br.publish(topics.Service("api"), apiSet(1, "10.0.0.1"), true)
	br.publish(topics.Desired(id), desired(id, 1, templatedAlloc("a1", "noop")), true)
	waitRendered(b, dir, "a1", "10.0.0.1:8080")
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := fmt.Sprintf("10.1.%d.%d:8080", i/250, i%250+1)
		start := time.Now()
		br.publish(topics.Service("api"), apiSet(uint64(i+2), want[:len(want)-5]), true)
		for renderedFile(dir, "a1") != want { // 1 ms polls: finer than eventually's
			if time.Since(start) > 10*time.Second {
				b.Fatalf("template not re-rendered after 10s")
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

func TestHealthFlipsReachCentral(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(code.Load())) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	b := startBroker(t, "127.0.0.1:0")
	a := startAgent(t, t.TempDir(), b.url(), fake.New())
	id := a.NodeID()
	alloc := serviceAlloc("a1", nil)
	alloc.Ports = []protocol.Port{{Label: "http", Value: port}}
	alloc.Tasks[0].Services = []protocol.Service{{Name: "web", PortLabel: "http", Address: "127.0.0.1",
		Checks: []protocol.Check{{Type: "http", Path: "/", IntervalMs: 20, TimeoutMs: 1000}}}}
	b.publish(topics.Desired(id), desired(id, 1, alloc), true)
	// The service starts unhealthy until its first check passes; whether
	// central sees that first "false" depends on whether an update left
	// before the first check finished, so history drops a leading false.
	history := func() []bool {
		var out []bool
		for _, u := range b.updates(id) {
			if len(u.Services) == 1 && (len(out) == 0 || out[len(out)-1] != u.Services[0].Healthy) {
				out = append(out, u.Services[0].Healthy)
			}
		}
		if len(out) > 0 && !out[0] {
			out = out[1:]
		}
		return out
	}
	wait := func(want ...bool) {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			if got := history(); !slices.Equal(got, want) {
				return fmt.Errorf("health seen by central %v, want %v", got, want)
			}
			return nil
		})
	}
	wait(true)
	code.Store(500)
	wait(true, false)
	code.Store(200)
	wait(true, false, true)
}
