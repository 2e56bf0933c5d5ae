package wasm

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tether-edge/tether/drivers"
)

func TestParseTaskConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     map[string]any
		taskDir string
		want    taskConfig
		err     string
	}{
		{"relative", map[string]any{"module": "local/app.wasm"}, "/t", taskConfig{Module: "/t/local/app.wasm", Entrypoint: "_start"}, ""},
		{"absolute", map[string]any{"module": "/opt/app.wasm", "args": []any{"-v", 3}}, "/t", taskConfig{Module: "/opt/app.wasm", Args: []string{"-v", "3"}, Entrypoint: "_start"}, ""},
		{"entrypoint", map[string]any{"module": "a.wasm", "entrypoint": "run"}, "/t", taskConfig{Module: "/t/a.wasm", Entrypoint: "run"}, ""},
		{"missing module", map[string]any{}, "/t", taskConfig{}, `"module" is required`},
		{"empty module", map[string]any{"module": " "}, "/t", taskConfig{}, `"module" is required`},
		{"relative without task dir", map[string]any{"module": "a.wasm"}, "", taskConfig{}, "no task dir"},
		{"bad args", map[string]any{"module": "a.wasm", "args": "x"}, "/t", taskConfig{}, `"args" must be a list`},
		{"typo", map[string]any{"module": "a.wasm", "arg": []any{}}, "/t", taskConfig{}, `unknown config key "arg" (known: args, entrypoint, module)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTaskConfig(&drivers.TaskConfig{Config: tc.cfg, TaskDir: tc.taskDir})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Module = filepath.FromSlash(tc.want.Module)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMemoryPages(t *testing.T) {
	for mb, want := range map[int]uint32{0: 65536, -1: 65536, 1: 16, 64: 1024, 4095: 65520, 4096: 65536, 100000: 65536} {
		if got := memoryPages(mb); got != want {
			t.Errorf("memoryPages(%d) = %d, want %d", mb, got, want)
		}
	}
}

func TestPickEngine(t *testing.T) {
	for _, tc := range []struct {
		want, arch, got, err string
	}{
		{"", "amd64", EngineCompiler, ""},
		{"", "arm64", EngineCompiler, ""},
		{"", "arm", EngineInterpreter, ""}, // wazero's compiler panics on 32-bit ARM
		{"", "386", EngineInterpreter, ""},
		{EngineInterpreter, "amd64", EngineInterpreter, ""},
		{EngineCompiler, "arm", "", "not available on arm"},
		{"jit", "amd64", "", `unknown engine "jit"`},
	} {
		got, err := pickEngine(tc.want, tc.arch)
		if got != tc.got || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("pickEngine(%q, %q) = %q, %v; want %q, %q", tc.want, tc.arch, got, err, tc.got, tc.err)
		}
	}
}

func TestGuestEnvOrderAndListeners(t *testing.T) {
	got := guestEnv(map[string]string{"B": "2", "A": "1"}, []drivers.Port{{Label: "http", Value: 8080}, {Label: "admin", Value: 9090}}, 6)
	want := [][2]string{{"A", "1"}, {"B", "2"}, {"TETHER_LISTEN_FD_HTTP", "6"}, {"TETHER_LISTEN_FD_ADMIN", "7"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
