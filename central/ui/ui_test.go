package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func seeded(t *testing.T) (*apitest.Backend, *httptest.Server) {
	b := apitest.New()
	b.PutNode(&structs.Node{ID: "node-0001", Name: "pi-kitchen", Datacenter: "dc2", Status: structs.NodeReady, Eligible: true,
		Drivers: []string{"exec", "wasm"}, Attributes: map[string]string{"board.model": "Raspberry Pi 4 Model B"}})
	b.PutNode(&structs.Node{ID: "node-0002", Name: "gw-<b>", Datacenter: "dc1", Status: structs.NodeDown})
	job := &jobspec.Job{ID: "web", Namespace: "default", Type: "service", Version: 3, Datacenters: []string{"dc2"},
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "server", Driver: "exec"}}}}}
	if _, _, err := b.SubmitJob(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	b.PutAlloc(&structs.Allocation{ID: "alloc-0001-aaaa", Name: "web.g[0]", NodeID: "node-0001", NodeName: "pi-kitchen", JobID: "web", Namespace: "default",
		TaskGroup: "g", JobVersion: 3, ClientStatus: "running", DesiredStatus: "run", Score: 0.5,
		Events: []structs.AllocEvent{{Type: "Reconnected", Time: 3e9, Message: "node reconnected; alloc kept"}},
		TaskStates: map[string]*structs.TaskState{"server": {State: "running", StartedAt: 2e9, Events: []structs.TaskEvent{
			{Type: "Received", Time: 1e9}, {Type: "Started", Time: 2e9, Message: "task started"}}}}})
	b.PutService(&structs.ServiceRegistration{ID: "svc-1", ServiceName: "product-api", Namespace: "default", NodeID: "node-0001", AllocID: "alloc-0001-aaaa",
		Address: "10.0.0.5", Port: 9090, Healthy: true, Tags: []string{"v1"}})
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)
	return b, srv
}

func TestPages(t *testing.T) {
	_, srv := seeded(t)
	tests := []struct {
		path string
		code int
		want []string
	}{
		{"/ui/servers", 200, []string{"server-1", "★ leader"}},
		{"/ui/clients", 200, []string{"Datacenter dc1", "Datacenter dc2", "pi-kitchen", "Raspberry Pi 4 Model B", "exec, wasm", `class="ok">ready`, `class="bad">down`, "gw-&lt;b&gt;"}},
		{"/ui/jobs", 200, []string{`href="/ui/jobs/web?namespace=default"`, "1 running"}},
		{"/ui/jobs/web", 200, []string{"Job web", `href="/ui/allocations/alloc-0001-aaaa"`, "web.g[0]"}},
		{"/ui/allocations/alloc-0001", 200, []string{"Allocation alloc-00", "Started", "task started", "Reconnected", "central"}},
		{"/ui/services", 200, []string{"product-api", "1 of 1 healthy", "10.0.0.5:9090"}},
		{"/ui/settings/tokens", 200, []string{"token-secret", "X-Tether-Token"}},
		{"/ui/static/app.js", 200, []string{"sessionStorage", "X-Tether-Token"}},
		{"/ui/jobs/nope", 404, []string{"not found"}},
		{"/ui/allocations/zzz", 404, []string{"not found"}},
		{"/ui/bogus", 404, []string{"no such page"}},
	}
	for _, tt := range tests {
		code, body := get(t, srv.URL+tt.path)
		if code != tt.code {
			t.Errorf("%s: HTTP %d, want %d", tt.path, code, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: body lacks %q", tt.path, w)
			}
		}
	}
	// The timeline is in time order: Received, Started, then central's Reconnected.
	_, body := get(t, srv.URL+"/ui/allocations/alloc-0001-aaaa")
	body = body[strings.Index(body, `class="timeline"`):]
	r, s, c := strings.Index(body, "Received"), strings.Index(body, ">Started<"), strings.Index(body, ">Reconnected<")
	if !(r < s && s < c) {
		t.Errorf("timeline out of order: Received@%d Started@%d Reconnected@%d", r, s, c)
	}
	resp, _ := http.Get(srv.URL + "/ui/")
	if resp.Request.URL.Path != "/ui/fleet" {
		t.Errorf("/ui/ went to %s, want /ui/fleet", resp.Request.URL.Path)
	}
	resp.Body.Close()
}

func TestFragmentBlocksUntilChange(t *testing.T) {
	b, srv := seeded(t)
	idx := b.Index("allocs")
	got := make(chan string, 1)
	start := time.Now()
	go func() {
		_, body := get(t, srv.URL+"/ui/jobs/web?fragment=1&index="+itoa(max(idx, b.Index("jobs"))))
		got <- body
	}()
	select {
	case <-got:
		t.Fatal("fragment answered before anything changed")
	case <-time.After(300 * time.Millisecond): // the blocking query must still be waiting
	}
	b.PutAlloc(&structs.Allocation{ID: "alloc-0002-bbbb", Name: "web.g[1]", NodeID: "node-0001", JobID: "web", Namespace: "default",
		TaskGroup: "g", ClientStatus: "pending", DesiredStatus: "run"})
	body := <-got
	if !strings.HasPrefix(body, "<main") || strings.Contains(body, "<html") || !strings.Contains(body, "alloc-0002-bbbb") {
		t.Errorf("fragment is not the refreshed <main>:\n%s", body)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("fragment took %s, want it to answer on the change", time.Since(start))
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
