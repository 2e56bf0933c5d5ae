package taskenv

import (
	"reflect"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

func testEnv() *Env {
	alloc := &protocol.DesiredAlloc{
		ID: "a-1", JobID: "shop", TaskGroup: "api", Name: "shop.api[2]", Index: 2, Datacenter: "dc2",
		Ports: []protocol.Port{{Label: "http", Value: 23456, To: 8080}, {Label: "admin", Value: 9000, HostIP: "10.0.0.9"}},
		Meta:  map[string]string{"owner": "ops"},
	}
	task := &protocol.Task{
		Name: "web", Resources: protocol.Resources{CPU: 200, MemoryMB: 64},
		Env: map[string]string{
			"LISTEN":   "${NOMAD_ADDR_http}",
			"ARCH":     "${attr.cpu.arch}",
			"MIXED":    "id=${node.unique.id} x=${nope} y=${TETHER_TASK_NAME}",
			"FROM_ENV": "${env.HOME}",
		},
	}
	node := Node{ID: "n-1", Name: "pi", Datacenter: "dc2", Attributes: map[string]string{"cpu.arch": "arm64", "unique.network.ip-address": "10.0.0.5"}, Meta: map[string]string{"rack": "r1"}}
	lookup := func(k string) (string, bool) {
		m := map[string]string{"PATH": "/usr/bin", "HOME": "/root"}
		v, ok := m[k]
		return v, ok
	}
	return Build(alloc, task, node, Dirs{AllocDir: "/d/a-1/alloc", LocalDir: "/d/a-1/web/local", SecretsDir: "/d/a-1/web/secrets"}, lookup)
}

func TestBuildRuntimeVars(t *testing.T) {
	e := testEnv()
	want := map[string]string{
		"NOMAD_ALLOC_ID": "a-1", "TETHER_ALLOC_ID": "a-1", "NOMAD_ALLOC_NAME": "shop.api[2]", "NOMAD_ALLOC_INDEX": "2",
		"NOMAD_JOB_ID": "shop", "NOMAD_JOB_NAME": "shop", "NOMAD_GROUP_NAME": "api", "NOMAD_TASK_NAME": "web",
		"NOMAD_DC": "dc2", "NOMAD_REGION": "global", "NOMAD_NAMESPACE": "default",
		"NOMAD_ALLOC_DIR": "/d/a-1/alloc", "NOMAD_TASK_DIR": "/d/a-1/web/local", "NOMAD_SECRETS_DIR": "/d/a-1/web/secrets",
		"NOMAD_CPU_LIMIT": "200", "NOMAD_MEMORY_LIMIT": "64",
		"NOMAD_ADDR_http": "10.0.0.5:8080", "NOMAD_IP_http": "10.0.0.5", "NOMAD_PORT_http": "8080", "NOMAD_HOST_PORT_http": "23456",
		"TETHER_ADDR_admin": "10.0.0.9:9000", "TETHER_PORT_admin": "9000",
		"NOMAD_META_owner": "ops", "NOMAD_META_OWNER": "ops",
		"LISTEN": "10.0.0.5:8080", "ARCH": "arm64", "MIXED": "id=n-1 x=${nope} y=web", "FROM_ENV": "/root",
		"PATH": "/usr/bin",
	}
	for k, v := range want {
		if got := e.Vars[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// A child of a periodic or parameterized job learns its parent; other
// jobs have no NOMAD_JOB_PARENT_ID at all, as in Nomad.
func TestBuildParentID(t *testing.T) {
	if _, ok := testEnv().Vars["NOMAD_JOB_PARENT_ID"]; ok {
		t.Fatal("NOMAD_JOB_PARENT_ID set for a job that is no child")
	}
	alloc := &protocol.DesiredAlloc{ID: "a-1", JobID: "report/periodic-1700000000", ParentID: "report"}
	e := Build(alloc, &protocol.Task{Name: "t"}, Node{}, Dirs{}, nil)
	if got := e.Vars["NOMAD_JOB_PARENT_ID"]; got != "report" {
		t.Fatalf("NOMAD_JOB_PARENT_ID = %q, want report", got)
	}
	if got := e.Vars["TETHER_JOB_PARENT_ID"]; got != "report" {
		t.Fatalf("TETHER_JOB_PARENT_ID = %q, want report", got)
	}
}

func TestReplace(t *testing.T) {
	e := testEnv()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"${NOMAD_ALLOC_ID}", "a-1"},
		{"${TETHER_JOB_ID}-${NOMAD_GROUP_NAME}", "shop-api"},
		{"${attr.cpu.arch}", "arm64"},
		{"${attr.missing}", "${attr.missing}"},
		{"${meta.rack}", "r1"},
		{"${node.unique.name}/${node.datacenter}/${node.region}", "pi/dc2/global"},
		{"${env.HOME}", "/root"},
		{"${env.LISTEN}", "10.0.0.5:8080"},
		{"${env.NOPE}", "${env.NOPE}"},
		{"${NOMAD_NOPE}", "${NOMAD_NOPE}"},
		{"${unknown.thing} and ${ NOMAD_TASK_NAME }", "${unknown.thing} and web"},
		{"open ${NOMAD_ALLOC_ID", "open ${NOMAD_ALLOC_ID"},
		{"$NOMAD_ALLOC_ID", "$NOMAD_ALLOC_ID"},
		{"${}", "${}"},
	}
	for _, tt := range tests {
		if got := e.Replace(tt.in); got != tt.want {
			t.Errorf("Replace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReplaceConfigRecursive(t *testing.T) {
	e := testEnv()
	in := map[string]any{
		"command": "${NOMAD_TASK_DIR}/bin",
		"args":    []any{"-listen", "${NOMAD_ADDR_http}", int64(3)},
		"nested":  map[string]any{"x": []any{map[string]any{"y": "${meta.rack}"}}},
		"flag":    true,
	}
	got := e.ReplaceConfig(in)
	want := map[string]any{
		"command": "/d/a-1/web/local/bin",
		"args":    []any{"-listen", "10.0.0.5:8080", int64(3)},
		"nested":  map[string]any{"x": []any{map[string]any{"y": "r1"}}},
		"flag":    true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if in["command"] != "${NOMAD_TASK_DIR}/bin" {
		t.Fatal("input was modified")
	}
}

// TestRuntimeVarsUnderBothPrefixes checks the variables job files and
// templates rely on exist as TETHER_ and as NOMAD_, with the same value.
func TestRuntimeVarsUnderBothPrefixes(t *testing.T) {
	e := testEnv()
	want := map[string]string{
		"ADDR_http": "10.0.0.5:8080", "IP_http": "10.0.0.5", "PORT_http": "8080",
		"HOST_ADDR_http": "10.0.0.5:23456", "HOST_PORT_http": "23456", "HOST_IP_admin": "10.0.0.9",
		"ALLOC_ID": "a-1", "TASK_NAME": "web", "JOB_NAME": "shop", "JOB_ID": "shop", "DC": "dc2",
		"ALLOC_DIR": "/d/a-1/alloc", "TASK_DIR": "/d/a-1/web/local", "SECRETS_DIR": "/d/a-1/web/secrets",
		"GROUP_NAME": "api", "ALLOC_INDEX": "2", "ALLOC_NAME": "shop.api[2]", "REGION": "global", "NAMESPACE": "default",
	}
	for k, v := range want {
		for _, p := range []string{"TETHER_", "NOMAD_"} {
			if got, ok := e.Vars[p+k]; !ok || got != v {
				t.Errorf("%s%s = %q (set %v), want %q", p, k, got, ok, v)
			}
		}
	}
}
