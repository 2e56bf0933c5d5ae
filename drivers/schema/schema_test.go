package schema

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

// checkCase is one config block and what Check says about it: "" for
// accepted, else the key the error names and a part of its text.
type checkCase struct {
	name   string
	driver string
	cfg    map[string]any
	key    string
	want   string
}

var ports = []string{"http", "admin"}

var checkCases = []checkCase{
	// exec
	{"exec minimal", "exec", map[string]any{"command": "/bin/true"}, "", ""},
	{"exec full", "exec", map[string]any{"command": "app", "args": []any{"-p", int64(8080), "${NOMAD_PORT_http}"}, "work_dir": "local"}, "", ""},
	{"exec interpolated command", "exec", map[string]any{"command": "${NOMAD_TASK_DIR}/app"}, "", ""},
	{"exec no command", "exec", map[string]any{"args": []any{"x"}}, "command", `config key "command" is required`},
	{"exec command list", "exec", map[string]any{"command": []any{"a"}}, "command", `"command" must be a string`},
	{"exec args string", "exec", map[string]any{"command": "a", "args": "x y"}, "args", `"args" must be a list`},
	{"exec typo", "exec", map[string]any{"command": "a", "arg": []any{}}, "arg", `unknown config key "arg" (known: args, command, work_dir); did you mean "args"?`},
	{"exec pid_mode", "exec", map[string]any{"command": "a", "pid_mode": "host"}, "pid_mode", `config key "pid_mode" is not supported; remove it`},
	{"exec image", "exec", map[string]any{"image": "redis"}, "image", `set command = "/path/to/program", or driver = "podman"`},

	// wasm
	{"wasm minimal", "wasm", map[string]any{"module": "local/app.wasm"}, "", ""},
	{"wasm full", "wasm", map[string]any{"module": "/opt/a.wasm", "args": []any{"${NOMAD_ADDR_http}"}, "entrypoint": "run"}, "", ""},
	{"wasm no module", "wasm", map[string]any{}, "module", `config key "module" is required`},
	{"wasm bad entrypoint", "wasm", map[string]any{"module": "a.wasm", "entrypoint": []any{}}, "entrypoint", `"entrypoint" must be a string`},
	{"wasm unknown", "wasm", map[string]any{"module": "a.wasm", "memory": 3}, "memory", `unknown config key "memory" (known: args, entrypoint, module)`},

	// podman
	{"podman minimal", "podman", map[string]any{"image": "docker.io/library/redis:7"}, "", ""},
	{"podman full", "podman", map[string]any{
		"image": "localhost/web:1", "command": "/bin/web", "args": []any{"-port", "${NOMAD_PORT_http}"},
		"entrypoint": []any{"/init"}, "work_dir": "/app", "ports": []any{"http", "admin"},
		"volumes": []any{"/srv:/data:ro", "local/cache:/cache"}, "network_mode": "bridge", "force_pull": true,
		"labels": []any{map[string]any{"team": "edge"}},
	}, "", ""},
	{"podman short image", "podman", map[string]any{"image": "hashicorpdemoapp/product-api-db:v0.0.20"}, "", ""},
	{"podman interpolated", "podman", map[string]any{
		"image": "registry.local/app:${meta.version}", "work_dir": "${NOMAD_TASK_DIR}", "force_pull": "${meta.pull}",
		"network_mode": "${meta.net}", "ports": []any{"${meta.port}"}, "volumes": []any{"${NOMAD_ALLOC_DIR}/data:/data"},
	}, "", ""},
	{"podman no image", "podman", map[string]any{"command": "x"}, "image", `config key "image" is required`},
	{"podman image path", "podman", map[string]any{"image": "../x"}, "image", `not an image reference`},
	{"podman relative work_dir", "podman", map[string]any{"image": "x", "work_dir": "app"}, "work_dir", `must be an absolute path`},
	{"podman bad network", "podman", map[string]any{"image": "x", "network_mode": "macvlan"}, "network_mode", `use "bridge" (default), "host" or "none"`},
	{"podman ports without network", "podman", map[string]any{"image": "x", "network_mode": "none", "ports": []any{"http"}}, "ports", `network_mode = "none" has none`},
	{"podman unknown port", "podman", map[string]any{"image": "x", "ports": []any{"db"}}, "ports", `port "db" is not in the group's network block (known: admin, http); add port "db" { }`},
	{"podman volume escapes", "podman", map[string]any{"image": "x", "volumes": []any{"../../etc:/etc"}}, "volumes", `must stay inside the task dir`},
	{"podman volume shape", "podman", map[string]any{"image": "x", "volumes": []any{"/srv"}}, "volumes", `not host:container[:ro]`},
	{"podman reserved label", "podman", map[string]any{"image": "x", "labels": map[string]any{"tether.task": "z"}}, "labels", `reserved prefix`},
	{"podman force_pull number", "podman", map[string]any{"image": "x", "force_pull": int64(2)}, "force_pull", `must be true or false`},
	{"podman typo", "podman", map[string]any{"image": "x", "volume": []any{}}, "volume", `did you mean "volumes"?`},
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, Check(tc.driver, tc.cfg, ports), tc.key, tc.want)
		})
	}
}

// TestDockerKeys: every Docker-only key is refused with what to write
// instead, never with the bare list of known keys.
func TestDockerKeys(t *testing.T) {
	keys := make([]string, 0, len(dockerKeys))
	for k := range dockerKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		err := Check("podman", map[string]any{"image": "x", k: true}, nil)
		expect(t, err, k, `config key "`+k+`" is not supported; `+dockerKeys[k])
		if strings.Contains(err.Error(), "known:") {
			t.Errorf("%s: %v", k, err)
		}
	}
	for _, tc := range []struct{ key, fix string }{
		{"port_map", `ports = ["http"]`},
		{"mount", `volumes = ["/host/path:/container/path:ro"]`},
		{"auth_soft_fail", "registry credentials"},
		{"privileged", "does not run privileged containers"},
		{"logging", "logs block"},
	} {
		if !strings.Contains(dockerKeys[tc.key], tc.fix) {
			t.Errorf("fix for %s = %q, want it to mention %q", tc.key, dockerKeys[tc.key], tc.fix)
		}
	}
}

// TestAgentEntryPoints runs the same table through the functions the
// drivers call on the agent: what Check refuses they refuse with the same
// message, and what Check accepts (with every value resolved) they accept.
func TestAgentEntryPoints(t *testing.T) {
	for _, tc := range checkCases {
		if tc.want == "" && hasPending(tc.cfg) {
			continue // resolved on the agent to values Check cannot know
		}
		t.Run(tc.name, func(t *testing.T) {
			var err error
			switch tc.driver {
			case "exec":
				_, err = Exec(tc.cfg)
			case "podman":
				_, err = Podman(tc.cfg, ports)
			case "wasm":
				_, err = Wasm(tc.cfg)
			}
			expect(t, err, tc.key, tc.want)
			if want := Check(tc.driver, tc.cfg, ports); (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
				t.Fatalf("agent: %v\ncentral: %v", err, want)
			}
		})
	}
}

// TestPendingOnlyAtSubmit: on the agent a ${...} left in a value is the
// value, and is checked.
func TestPendingOnlyAtSubmit(t *testing.T) {
	cfg := map[string]any{"image": "x", "work_dir": "${NOMAD_TASK_DIR}"}
	if err := Check("podman", cfg, nil); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if _, err := Podman(cfg, nil); err == nil {
		t.Fatal("agent accepted a relative work_dir")
	}
}

func TestUnknownDriver(t *testing.T) {
	if err := Check("docker", nil, nil); !errors.Is(err, ErrUnknownDriver) {
		t.Fatalf("err = %v", err)
	}
}

func expect(t *testing.T, err error, key, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *schema.Error", err, err)
	}
	if se.Key != key || !strings.Contains(se.Error(), want) {
		t.Fatalf("err = %v (key %q), want key %q and %q", se, se.Key, key, want)
	}
}

func hasPending(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "${")
	case []any:
		for _, e := range x {
			if hasPending(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasPending(e) {
				return true
			}
		}
	}
	return false
}
