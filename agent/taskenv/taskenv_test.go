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

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http", "http"},
		{"public-api", "public_api"},
		{"Web_2", "Web_2"},
		{"v1.http", "v1.http"}, // Nomad keeps '.'
		{"a b/c:d", "a_b_c_d"},
		{"9000", "9000"},  // always after a prefix: a digit first is fine
		{"café", "caf__"}, // each byte of a non-ASCII letter
		{"", ""},
	}
	for _, tt := range tests {
		if got := CleanName(tt.in); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A port label or meta key that is no valid environment name is set as
// written (our alias) and cleaned as Nomad cleans it (NOMAD_PORT_public_api,
// the name the HashiCups nginx template reads), for interpolation too.
func TestCleanedNames(t *testing.T) {
	alloc := &protocol.DesiredAlloc{
		ID: "a-1", JobID: "hashicups", TaskGroup: "frontend",
		Ports: []protocol.Port{{Label: "public-api", Value: 8081, To: 8080}},
		Meta:  map[string]string{"build-id": "42", "release.channel": "beta"},
	}
	task := &protocol.Task{Name: "nginx", Env: map[string]string{
		"UPSTREAM": "${NOMAD_ADDR_public_api}",
		"AS_WRIT":  "${NOMAD_PORT_public-api}",
	}}
	node := Node{Attributes: map[string]string{"unique.network.ip-address": "10.0.0.5"}}
	e := Build(alloc, task, node, Dirs{}, nil)
	want := map[string]string{
		"NOMAD_PORT_public_api": "8080", "NOMAD_ADDR_public_api": "10.0.0.5:8080", "NOMAD_IP_public_api": "10.0.0.5",
		"NOMAD_HOST_PORT_public_api": "8081", "NOMAD_HOST_IP_public_api": "10.0.0.5", "NOMAD_HOST_ADDR_public_api": "10.0.0.5:8081",
		"TETHER_PORT_public_api": "8080", "TETHER_ADDR_public_api": "10.0.0.5:8080",
		"NOMAD_PORT_public-api": "8080", "TETHER_HOST_PORT_public-api": "8081", // as written, documented alias
		"NOMAD_META_build_id": "42", "NOMAD_META_BUILD_ID": "42", "NOMAD_META_build-id": "42", "TETHER_META_build_id": "42",
		"NOMAD_META_release.channel": "beta", "NOMAD_META_RELEASE.CHANNEL": "beta", // Nomad keeps '.'
		"NOMAD_META_release_channel": "beta", "NOMAD_META_RELEASE_CHANNEL": "beta", // and a shell can read this
		"UPSTREAM": "10.0.0.5:8080", "AS_WRIT": "8080",
	}
	for k, v := range want {
		if got, ok := e.Vars[k]; !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	if got := e.Replace("listen ${NOMAD_PORT_public_api};"); got != "listen 8080;" {
		t.Errorf("Replace = %q, want the cleaned name resolved", got)
	}
}

// Two labels that clean to the same name: the one written that way wins,
// whichever comes first, and the other keeps its own spelling.
func TestCleanedNameCollision(t *testing.T) {
	for _, ports := range [][]protocol.Port{
		{{Label: "a-b", Value: 1000}, {Label: "a_b", Value: 2000}},
		{{Label: "a_b", Value: 2000}, {Label: "a-b", Value: 1000}},
	} {
		e := Build(&protocol.DesiredAlloc{ID: "x", Ports: ports}, &protocol.Task{Name: "t"}, Node{}, Dirs{}, nil)
		if got := e.Vars["NOMAD_PORT_a_b"]; got != "2000" {
			t.Errorf("ports %v: NOMAD_PORT_a_b = %q, want 2000 (the label written a_b)", ports, got)
		}
		if got := e.Vars["NOMAD_PORT_a-b"]; got != "1000" {
			t.Errorf("ports %v: NOMAD_PORT_a-b = %q, want 1000", ports, got)
		}
	}
	meta := map[string]string{"x-y": "dash", "x_y": "under"}
	e := Build(&protocol.DesiredAlloc{ID: "x", Meta: meta}, &protocol.Task{Name: "t"}, Node{}, Dirs{}, nil)
	if e.Vars["NOMAD_META_x_y"] != "under" || e.Vars["NOMAD_META_X_Y"] != "under" || e.Vars["NOMAD_META_x-y"] != "dash" {
		t.Errorf("meta: x_y=%q X_Y=%q x-y=%q, want under, under, dash", e.Vars["NOMAD_META_x_y"], e.Vars["NOMAD_META_X_Y"], e.Vars["NOMAD_META_x-y"])
	}
}
