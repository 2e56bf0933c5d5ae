package cli

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func svcReg(alloc, name string, port int, healthy bool, tags ...string) *structs.ServiceRegistration {
	return &structs.ServiceRegistration{ID: structs.ServiceID(alloc, "server", name, "http"), ServiceName: name,
		Namespace: "default", JobID: "web", AllocID: alloc, NodeID: node1, Datacenter: "dc1",
		Address: "10.0.0.5", Port: port, Tags: tags, Healthy: healthy}
}

func TestServiceList(t *testing.T) {
	c := newCluster(t)
	code, out, _ := c.run(t, "service", "list")
	if code != 0 || out != "No services registered\n" {
		t.Errorf("empty: exit %d %q", code, out)
	}
	c.b.PutService(svcReg(alloc1, "api", 8080, true, "v1"), svcReg(alloc2, "api", 8081, false, "v2", "edge"), svcReg(alloc1, "db", 5432, true))
	code, out, _ = c.run(t, "service", "list")
	want := "Service Name  Tags\napi           [edge,v1,v2]\ndb            []\n"
	if code != 0 || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = c.run(t, "service", "list", "-json")
	if code != 0 || !strings.HasPrefix(out, `[{"service_name":"api","namespace":"default","tags":["edge","v1","v2"]}`) {
		t.Errorf("-json: exit %d %s", code, out)
	}
}

func TestServiceInfo(t *testing.T) {
	c := newCluster(t)
	c.b.PutService(svcReg(alloc1, "api", 8080, true, "v1"), svcReg(alloc2, "api", 8081, false, "v2", "edge"))
	code, out, _ := c.run(t, "service", "info", "api")
	want := "Job  Address        Tags  Node      Alloc     Healthy\nweb  10.0.0.5:8080  [v1]  aaaa1111  bbbb0001  true\n"
	if code != 0 || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = c.run(t, "service", "info", "-all", "api")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "10.0.0.5:8081  [v2,edge]  aaaa1111  bbbb0002  false") {
		t.Errorf("-all: exit %d:\n%s", code, out)
	}
	code, out, _ = c.run(t, "service", "info", "-all", "-tag", "edge", "-tag", "v2", "api")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "8081") {
		t.Errorf("-tag: exit %d:\n%s", code, out)
	}
	code, out, _ = c.run(t, "service", "info", "-json", "api")
	if code != 0 || !strings.HasPrefix(out, `[{"id":"_tether-`+alloc1+`-server-api-http","service_name":"api"`) {
		t.Errorf("-json: exit %d %s", code, out)
	}
	code, _, errOut := c.run(t, "service", "info", "nope")
	if code != 1 || !strings.Contains(errOut, `No healthy instances of service "nope" (-all shows unhealthy ones)`) {
		t.Errorf("unknown: exit %d %q", code, errOut)
	}
	code, _, errOut = c.run(t, "service", "info")
	if code != exitUsage || !strings.Contains(errOut, "takes [options] NAME") {
		t.Errorf("no name: exit %d %q", code, errOut)
	}
}

func TestServiceDelete(t *testing.T) {
	c := newCluster(t)
	r := svcReg(alloc1, "api", 8080, true)
	c.b.PutService(r)
	code, out, _ := c.run(t, "service", "delete", "api", r.ID)
	if code != 0 || out != `Deleted instance "`+r.ID+`" of service "api"`+"\n" {
		t.Errorf("exit %d %q", code, out)
	}
	if n := len(c.b.ServiceByName("default", "api")); n != 0 {
		t.Errorf("%d instances left", n)
	}
	code, _, errOut := c.run(t, "service", "delete", "api", r.ID)
	if code != 1 || !strings.Contains(errOut, "(HTTP 404)") {
		t.Errorf("again: exit %d %q", code, errOut)
	}
}
