package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseVarArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"plain", []string{"a=1", "b=x=y"}, map[string]string{"a": "1", "b": "x=y"}, ""},
		{"flag pairs", []string{"-var", "a=1", "--var", "b=2"}, map[string]string{"a": "1", "b": "2"}, ""},
		{"flag equals", []string{"-var=a=1", "--var=b="}, map[string]string{"a": "1", "b": ""}, ""},
		{"later wins", []string{"a=1", "a=2"}, map[string]string{"a": "2"}, ""},
		{"empty", nil, map[string]string{}, ""},
		{"no equals", []string{"a"}, nil, `-var "a" is not name=value`},
		{"no name", []string{"=1"}, nil, "is not name=value"},
		{"dangling flag", []string{"-var"}, nil, "-var needs a value"},
		{"bad name", []string{"a b=1"}, nil, "is not a variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVarArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestVarOverrides checks that -var strings are converted to each
// variable's declared type and win over defaults.
func TestVarOverrides(t *testing.T) {
	src := mustRead(t, "testdata/good/variables.hcl")
	j, err := Parse("variables.hcl", src, map[string]string{
		"name":     "edge",
		"replicas": " 5 ",
		"debug":    "true",
		"dcs":      `["north", "south"]`,
		"labels":   `{ team = "ops" }`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.TaskGroups[0].Count; got != 5 {
		t.Errorf("count = %d, want 5", got)
	}
	if want := []string{"north", "south", "dc9"}; !reflect.DeepEqual(j.Datacenters, want) {
		t.Errorf("datacenters = %v, want %v", j.Datacenters, want)
	}
	if !reflect.DeepEqual(j.Meta, map[string]string{"team": "ops"}) {
		t.Errorf("meta = %v", j.Meta)
	}
	args := j.TaskGroups[0].Tasks[0].Config["args"].([]any)
	if args[0] != "HELLO EDGE" || args[len(args)-4] != "debug" || args[len(args)-1] != "z" {
		t.Errorf("args = %v", args)
	}
	if d := j.TaskGroups[0].Tasks[0].Templates[0].Data; !strings.HasPrefix(d, "name = edge\n{{ with") {
		t.Errorf("template data = %q", d)
	}
}

func TestVarBadComplexOverride(t *testing.T) {
	_, err := Parse("variables.hcl", mustRead(t, "testdata/good/variables.hcl"), map[string]string{"dcs": `[1, `})
	if err == nil || !strings.Contains(err.Error(), `-var dcs=`) {
		t.Fatalf("err = %v, want one naming -var dcs", err)
	}
}

// TestRuntimeRefsShadowedByFor checks that a for-expression variable that
// happens to be called node or meta is evaluated, not left for the agent.
func TestRuntimeRefsShadowedByFor(t *testing.T) {
	const tmpl = `job "x" {
  group "g" {
    task "t" {
      driver = "exec"
      config = { command = "/bin/app", args = %s }
    }
  }
}`
	j, err := Parse("x.hcl", []byte(fmt.Sprintf(tmpl, `[for node in ["n1", "n2"] : upper(node)]`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.TaskGroups[0].Tasks[0].Config["args"]; !reflect.DeepEqual(got, []any{"N1", "N2"}) {
		t.Errorf("args = %#v", got)
	}
	// meta is a string here, so meta.rack must fail to evaluate rather
	// than be rewritten to "${meta.rack}".
	_, err = Parse("x.hcl", []byte(fmt.Sprintf(tmpl, `{ for meta, v in { k = "v" } : meta => "${v}-${meta.rack}" }`)), nil)
	if err == nil || !strings.Contains(err.Error(), "x.hcl:5: Unsupported attribute") {
		t.Fatalf("err = %v", err)
	}
}

// TestRoundTripJSON checks that a parsed job survives JSON (as central
// stores and serves it) and still canonicalizes to the same thing and
// validates.
func TestRoundTripJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.hcl")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			j, err := ParseFile(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			first, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			var back Job
			if err := json.Unmarshal(first, &back); err != nil {
				t.Fatal(err)
			}
			back.Canonicalize()
			if err := back.Validate(); err != nil {
				t.Fatalf("round-tripped job does not validate: %v", err)
			}
			second, _ := json.Marshal(&back)
			if !bytes.Equal(first, second) {
				t.Errorf("JSON changed on round trip:\n%s\n%s", first, second)
			}
		})
	}
}

// TestValidateJSONJob checks errors for a job that never was a file: no
// file:line, but a path saying where.
func TestValidateJSONJob(t *testing.T) {
	j := &Job{ID: "web", TaskGroups: []*TaskGroup{{
		Name: "g", Count: 1,
		Tasks: []*Task{{Name: "t", Driver: "dockr"}, nil},
	}, nil}}
	j.Canonicalize()
	err := j.Validate()
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`job "web" group "g" task "t": unknown driver "dockr" (known: exec, podman, wasm)`,
		`job "web": task group 1 is null`,
		`job "web" group "g": task 1 is null`,
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if !errors.Is(err, ErrInvalidJob) {
		t.Error("Errors does not match ErrInvalidJob")
	}
}

// TestCanonicalizeDefaults checks Nomad's defaults on a bare JSON job, and
// that applying them twice changes nothing.
func TestCanonicalizeDefaults(t *testing.T) {
	mcd := time.Hour
	j := &Job{ID: "b", Type: JobTypeBatch, TaskGroups: []*TaskGroup{{
		Name: "g", MaxClientDisconnect: &mcd,
		Tasks: []*Task{{Name: "t", Driver: "exec", Templates: []*Template{{Destination: "x"}}}},
	}}}
	j.Canonicalize()
	g, tk := j.TaskGroups[0], j.TaskGroups[0].Tasks[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"name", j.Name, "b"},
		{"region", j.Region, "global"},
		{"namespace", j.Namespace, "default"},
		{"priority", j.Priority, 50},
		{"datacenters", j.Datacenters, []string{"*"}},
		{"restart", *g.Restart, RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}},
		{"lost_after", g.Disconnect.LostAfter, time.Hour},
		{"reconcile", g.Disconnect.Reconcile, "best_score"},
		{"resources", *tk.Resources, Resources{CPU: 100, MemoryMB: 300}},
		{"kill_timeout", tk.KillTimeout, 5 * time.Second},
		{"change_mode", tk.Templates[0].ChangeMode, "restart"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	before, _ := json.Marshal(j)
	j.Canonicalize()
	after, _ := json.Marshal(j)
	if !bytes.Equal(before, after) {
		t.Errorf("Canonicalize is not idempotent:\n%s\n%s", before, after)
	}
	var nilJob *Job
	nilJob.Canonicalize() // must not panic
	(&Job{TaskGroups: []*TaskGroup{nil, {Tasks: []*Task{nil}}}}).Canonicalize()
}

func TestServiceRestartDefaults(t *testing.T) {
	j, err := Parse("s.hcl", []byte(`job "s" {
  group "g" {
    restart { attempts = 7 }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := RestartPolicy{Attempts: 7, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
	if got := *j.TaskGroups[0].Restart; got != want {
		t.Errorf("restart = %+v, want %+v", got, want)
	}
}

func TestErrorRendering(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{File: "web.hcl", Line: 12, Summary: `unknown driver "dockr" (known: exec, podman, wasm)`}, `web.hcl:12: unknown driver "dockr" (known: exec, podman, wasm)`},
		{&Error{File: "web.hcl", Line: 3, Summary: "x", Fix: "do y"}, "web.hcl:3: x; do y"},
		{&Error{File: "web.hcl", Summary: "x"}, "web.hcl: x"},
		{&Error{Path: `job "a"`, Summary: "x"}, `job "a": x`},
		{&Error{File: "f", Line: 1, Path: `job "a"`, Summary: "x"}, "f:1: x"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	es := Errors{tests[0].e, tests[1].e}
	if got := es.Error(); got != tests[0].want+"\n"+tests[1].want {
		t.Errorf("Errors = %q", got)
	}
}

func TestParseFileMissing(t *testing.T) {
	if _, err := ParseFile("testdata/does-not-exist.hcl", nil); err == nil || !strings.Contains(err.Error(), "does-not-exist.hcl") {
		t.Fatalf("err = %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	_, err := Parse("big.hcl", make([]byte, MaxFileBytes+1), nil)
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
}

// TestParseConcurrent parses the same files from several goroutines, as
// central's HTTP handlers do; run with -race.
func TestParseConcurrent(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.hcl")
	srcs := make([][]byte, len(files))
	for i, f := range files {
		srcs[i] = mustRead(t, f)
	}
	errs := make(chan error, 8*len(files))
	for w := 0; w < 8; w++ {
		go func() {
			for i, src := range srcs {
				_, err := Parse(filepath.Base(files[i]), src, nil)
				errs <- err
			}
		}()
	}
	for range 8 * len(files) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
