package api_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

func reg(alloc, name string, port int, healthy bool, tags ...string) *structs.ServiceRegistration {
	return &structs.ServiceRegistration{ID: structs.ServiceID(alloc, "server", name, "http"), ServiceName: name,
		Namespace: "default", JobID: "shop", AllocID: alloc, NodeID: "node-" + alloc, Datacenter: "dc1",
		Task: "server", PortLabel: "http", Address: "10.0.0.1", Port: port, Tags: tags, Healthy: healthy}
}

// seedServices: api has a1 (healthy, v1+edge), a2 (healthy, v2), a3
// (unhealthy, v1); db has d1; "other" namespace has its own api.
func seedServices(b *apitest.Backend) {
	other := reg("o1", "api", 9000, true, "v1")
	other.Namespace = "other"
	b.PutService(reg("a1", "api", 8001, true, "v1", "edge"), reg("a2", "api", 8002, true, "v2"),
		reg("a3", "api", 8003, false, "v1"), reg("d1", "db", 5432, true), other)
}

func ports(regs []map[string]any) []float64 {
	var out []float64
	for _, r := range regs {
		out = append(out, r["port"].(float64))
	}
	return out
}

func TestServiceList(t *testing.T) {
	b, srv := newTestServer(t)
	seedServices(b)
	r := do(t, srv, "GET", "/v1/services", nil)
	if r.code != 200 || r.index != strconv.FormatUint(b.Index("services"), 10) {
		t.Fatalf("GET /v1/services: %d index %s: %s", r.code, r.index, r.body)
	}
	got := decode[[]api.ServiceListEntry](t, r)
	want := []api.ServiceListEntry{
		{ServiceName: "api", Namespace: "default", Tags: []string{"edge", "v1", "v2"}},
		{ServiceName: "db", Namespace: "default", Tags: []string{}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list = %+v, want %+v", got, want)
	}
	if raw := string(r.body); !strings.Contains(raw, `"tags":[]`) {
		t.Errorf("empty tags not rendered as []: %s", raw)
	}
	if all := decode[[]api.ServiceListEntry](t, do(t, srv, "GET", "/v1/services?namespace=*", nil)); len(all) != 3 {
		t.Errorf("namespace=*: %d entries, want 3", len(all))
	}
}

func TestServiceInstances(t *testing.T) {
	b, srv := newTestServer(t)
	seedServices(b)
	for _, tc := range []struct {
		query string
		want  []float64
	}{
		{"", []float64{8001, 8002}}, // healthy only by default
		{"?all=true", []float64{8001, 8002, 8003}},
		{"?tag=v1", []float64{8001}},
		{"?tag=v1&all=true", []float64{8001, 8003}},
		{"?tag=v1&tag=edge", []float64{8001}},
		{"?tag=v2&tag=edge", nil},
		{"?namespace=other", []float64{9000}},
	} {
		r := do(t, srv, "GET", "/v1/service/api"+tc.query, nil)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", tc.query, r.code, r.body)
		}
		got := decode[[]map[string]any](t, r)
		if !slices.Equal(ports(got), tc.want) {
			t.Errorf("GET /v1/service/api%s: ports %v, want %v", tc.query, ports(got), tc.want)
		}
	}
	// The documented contract fields.
	got := decode[[]map[string]any](t, do(t, srv, "GET", "/v1/service/api?tag=edge", nil))
	for _, f := range []string{"id", "service_name", "address", "port", "tags", "node_id", "alloc_id", "job_id", "datacenter", "healthy"} {
		if _, ok := got[0][f]; !ok {
			t.Errorf("instance lacks %q: %v", f, got[0])
		}
	}
	// Unknown service: an empty list, not a 404 (blocking queries wait for it).
	if r := do(t, srv, "GET", "/v1/service/nope", nil); r.code != 200 || string(r.body) != "[]\n" {
		t.Errorf("unknown service: %d %s", r.code, r.body)
	}
	for _, q := range []string{"?all=maybe", "?choose=0|k", "?choose=x|k", "?choose=2", "?choose=2|"} {
		if r := do(t, srv, "GET", "/v1/service/api"+q, nil); r.code != 400 {
			t.Errorf("%s: %d, want 400", q, r.code)
		}
	}
	if r := do(t, srv, "GET", "/v1/service/a+b", nil); r.code != 400 {
		t.Errorf("name with +: %d, want 400", r.code)
	}
}

func TestServiceChoose(t *testing.T) {
	b, srv := newTestServer(t)
	var regs []*structs.ServiceRegistration
	for i := range 6 {
		regs = append(regs, reg(fmt.Sprintf("a%d", i), "api", 8000+i, true))
	}
	b.PutService(regs...)
	choose := func(key string, n int) []float64 {
		r := do(t, srv, "GET", fmt.Sprintf("/v1/service/api?choose=%d%%7C%s", n, url.QueryEscape(key)), nil)
		if r.code != 200 {
			t.Fatalf("choose: %d %s", r.code, r.body)
		}
		return ports(decode[[]map[string]any](t, r))
	}
	first := choose("client-1", 2)
	if len(first) != 2 || !slices.Equal(first, choose("client-1", 2)) {
		t.Fatalf("choose not stable: %v", first)
	}
	if n := len(choose("client-1", 10)); n != 6 {
		t.Errorf("choose 10 of 6 gave %d", n)
	}
	// Removing an instance not chosen leaves the choice alone.
	var victim string
	for _, r := range regs {
		if !slices.Contains(first, float64(r.Port)) {
			victim = r.ID
			break
		}
	}
	if err := b.DeleteService(t.Context(), "default", "api", victim); err != nil {
		t.Fatal(err)
	}
	if after := choose("client-1", 2); !slices.Equal(after, first) {
		t.Errorf("choice changed from %v to %v when an unchosen instance left", first, after)
	}
}

func TestServiceDelete(t *testing.T) {
	b, srv := newTestServer(t)
	seedServices(b)
	id := structs.ServiceID("a1", "server", "api", "http")
	if r := do(t, srv, "DELETE", "/v1/service/api/nope", nil); r.code != 404 {
		t.Errorf("delete missing: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "DELETE", "/v1/service/db/"+id, nil); r.code != 404 {
		t.Errorf("delete under the wrong name: %d %s", r.code, r.body)
	}
	r := do(t, srv, "DELETE", "/v1/service/api/"+id, nil)
	if r.code != 200 || r.index != strconv.FormatUint(b.Index("services"), 10) {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if n := len(b.ServiceByName("default", "api")); n != 2 {
		t.Errorf("%d api instances left, want 2", n)
	}
	if r := do(t, srv, "GET", "/v1/service/api/"+id, nil); r.code != 405 {
		t.Errorf("GET on the delete route: %d, want 405", r.code)
	}
	b.WriteErr = errors.New("no leader")
	if r := do(t, srv, "DELETE", "/v1/service/api/"+structs.ServiceID("a2", "server", "api", "http"), nil); r.code != 500 {
		t.Errorf("delete without a leader: %d, want 500", r.code)
	}
}

func TestServiceBlockingQuery(t *testing.T) {
	b, srv := newTestServer(t)
	seedServices(b)
	idx := b.Index("services")
	done := make(chan response, 1)
	go func() { done <- do(t, srv, "GET", fmt.Sprintf("/v1/service/db?index=%d&wait=1m", idx), nil) }()
	b.PutNode(&structs.Node{ID: "n9"}) // another table: no wake-up
	select {
	case r := <-done:
		t.Fatalf("woke on a nodes change: %s", r.body)
	default:
	}
	d2 := reg("d2", "db", 5433, true)
	b.PutService(d2)
	select {
	case r := <-done:
		if got := decode[[]map[string]any](t, r); len(got) != 2 || r.index != strconv.FormatUint(b.Index("services"), 10) {
			t.Errorf("after change: %d instances, index %s", len(got), r.index)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking query did not return after the change")
	}
}
