package template

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// fakeLookup serves fixed sets and env.
type fakeLookup struct {
	sets map[string]protocol.ServiceSet
	env  map[string]string
}

func (f fakeLookup) Service(name string) (protocol.ServiceSet, bool) {
	s, ok := f.sets[name]
	return s, ok
}
func (f fakeLookup) Env(k string) string { return f.env[k] }

func testPaths(t *testing.T) Paths {
	base := t.TempDir()
	p := Paths{TaskDir: filepath.Join(base, "web"), AllocDir: filepath.Join(base, "alloc")}
	for _, d := range []string{p.TaskDir + "/local", p.AllocDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func apiLookup() fakeLookup {
	return fakeLookup{
		sets: map[string]protocol.ServiceSet{"api": {V: 1, Name: "api", Instances: []protocol.ServiceInstance{
			{ID: "b", Address: "10.0.0.2", Port: 81, Tags: []string{"v2"}, NodeID: "n2", AllocID: "a2", Datacenter: "dc2", Healthy: true},
			{ID: "sick", Address: "10.0.0.9", Port: 99, Healthy: false},
			{ID: "a", Address: "10.0.0.1", Port: 80, Tags: []string{"v1", "prod"}, NodeID: "n1", AllocID: "a1", Datacenter: "dc1", JobID: "shop", Healthy: true},
		}}},
		env: map[string]string{"NOMAD_ALLOC_ID": "a-1", "attr.cpu.arch": "arm64"},
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"healthy sorted", `{{ range service "api" }}{{ .Address }}:{{ .Port }} {{ end }}`, "10.0.0.1:80 10.0.0.2:81 "},
		{"alias", `{{ range nomadService "api" }}{{ .ID }}{{ end }}`, "ab"},
		{"tag filter", `{{ range service "prod.api" }}{{ .ID }}{{ end }}`, "a"},
		{"dc filter", `{{ range service "api@dc2" }}{{ .NodeID }}/{{ .AllocID }}/{{ .Datacenter }}{{ end }}`, "n2/a2/dc2"},
		{"fields", `{{ with index (service "api") 0 }}{{ .Name }} {{ .JobID }} {{ .Tags | join "," }} {{ .Namespace }}{{ end }}`, "api shop v1,prod default"},
		{"unknown service is empty", `[{{ range service "nope" }}x{{ end }}]`, "[]"},
		{"env", `{{ env "NOMAD_ALLOC_ID" }} {{ env "attr.cpu.arch" }} [{{ env "UNSET" }}]`, "a-1 arm64 []"},
		{"helpers", `{{ "A,b" | split "," | toJSON }} {{ toUpper "x" }} {{ replaceAll "a" "o" "banana" }} {{ if .Tags | contains "v1" }}{{ end }}`, ""},
		{"contains", `{{ range service "api" }}{{ if .Tags | contains "v2" }}{{ .ID }}{{ end }}{{ end }}`, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "helpers" {
				tc.text = `{{ "A,b" | split "," | toJSON }} {{ toUpper "x" }} {{ replaceAll "a" "o" "banana" }} {{ trimSpace "  y " }}`
				tc.want = `["A","b"] X bonono y`
			}
			tm, err := Parse(protocol.Template{Data: tc.text, Destination: "local/out"}, testPaths(t))
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := tm.Render(apiLookup())
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	p := testPaths(t)
	tests := []struct {
		name string
		spec protocol.Template
		want string
	}{
		{"syntax error has the line", protocol.Template{Data: "ok\nok\n{{ range service \"api\" }", Destination: "local/app.conf"}, "local/app.conf:3"},
		{"unknown function has the line", protocol.Template{Data: "a\n{{ key \"x\" }}", Destination: "local/app.conf"}, `local/app.conf:2: function "key" not defined`},
		{"bad service name", protocol.Template{Data: "\n\n{{ service \"a/b\" }}", Destination: "local/x"}, "local/x:3"},
		{"escaping destination", protocol.Template{Data: "x", Destination: "../../etc/passwd"}, "outside the task directory"},
		{"absolute destination elsewhere", protocol.Template{Data: "x", Destination: "/etc/passwd"}, "outside the task directory"},
		{"no destination", protocol.Template{Data: "x"}, "needs a destination"},
		{"bad perms", protocol.Template{Data: "x", Destination: "local/x", Perms: "rw"}, `perms "rw"`},
		{"bad change mode", protocol.Template{Data: "x", Destination: "local/x", ChangeMode: "reload"}, `change_mode "reload"`},
		{"missing source", protocol.Template{Source: "local/nope.tpl", Destination: "local/x"}, "source"},
		{"escaping source", protocol.Template{Source: "../../../etc/shadow", Destination: "local/x"}, "outside the task directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.spec, p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestRenderErrorHasLine(t *testing.T) {
	tm, err := Parse(protocol.Template{Data: "line1\n{{ range service \"api\" }}{{ index .Tags 5 }}{{ end }}", Destination: "local/app.conf"}, testPaths(t))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tm.Render(apiLookup())
	if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), "local/app.conf:2") {
		t.Fatalf("got %v", err)
	}
}

func TestDestinationsAndSource(t *testing.T) {
	p := testPaths(t)
	p.Interpolate = func(s string) string { return strings.ReplaceAll(s, "${NOMAD_TASK_DIR}", p.TaskDir+"/local") }
	if err := os.WriteFile(filepath.Join(p.TaskDir, "local", "in.tpl"), []byte(`{{ env "NOMAD_ALLOC_ID" }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string]string{
		"local/a.conf":                 filepath.Join(p.TaskDir, "local/a.conf"),
		"${NOMAD_TASK_DIR}/b.conf":     filepath.Join(p.TaskDir, "local/b.conf"),
		"../alloc/shared.conf":         filepath.Join(p.AllocDir, "shared.conf"),
		"secrets/./x/../token":         filepath.Join(p.TaskDir, "secrets/token"),
		filepath.Join(p.AllocDir, "c"): filepath.Join(p.AllocDir, "c"),
	} {
		tm, err := Parse(protocol.Template{Source: "local/in.tpl", Destination: dest, Perms: "0600"}, p)
		if err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
		if tm.Dest != want {
			t.Fatalf("%s resolved to %s, want %s", dest, tm.Dest, want)
		}
		out, _, err := tm.Render(apiLookup())
		if err != nil || string(out) != "a-1" {
			t.Fatalf("render %q %v", out, err)
		}
		changed, err := tm.write(out, p)
		if err != nil || !changed {
			t.Fatalf("write: changed %v err %v", changed, err)
		}
		fi, err := os.Stat(want)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("written file %v %v", fi, err)
		}
		if changed, err := tm.write(out, p); err != nil || changed {
			t.Fatalf("same content rewritten: changed %v err %v", changed, err)
		}
	}
}

func TestWriteRefusesSymlinkEscape(t *testing.T) {
	p := testPaths(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(p.TaskDir, "evil")); err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(protocol.Template{Data: "x", Destination: "evil/file"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.write([]byte("x"), p); err == nil || !strings.Contains(err.Error(), "outside the task directory") {
		t.Fatalf("write through a symlink out of the task dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "file")); err == nil {
		t.Fatal("file written outside the task dir")
	}
	// A symlink at the destination itself is replaced, not followed.
	target := filepath.Join(outside, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(p.TaskDir, "local", "link"))
	tm, _ = Parse(protocol.Template{Data: "x", Destination: "local/link"}, p)
	if _, err := tm.write([]byte("new"), p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("write followed the symlink: target now %q", b)
	}
}

func TestScanNames(t *testing.T) {
	text := `{{ with (service "inner") }}{{ end }}
{{ range service "prod.api@dc1" }}{{ end }}
{{ if nomadService "db" }}{{ else }}{{ with service "cache" }}{{ end }}{{ end }}
{{ range $i, $s := (service "api") }}{{ end }}
{{ service (env "X") }}`
	tm, err := Parse(protocol.Template{Data: text, Destination: "local/x"}, testPaths(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range tm.Services() {
		got[n] = true
	}
	want := map[string]bool{"inner": true, "api": true, "db": true, "cache": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  string
	}{
		{"plain", "A=1\nB = two \n\n# c\nexport C=3\n", map[string]string{"A": "1", "B": "two", "C": "3"}, ""},
		{"quotes", "A=\"x\\ny\"\nB='a b'\nC=a=b", map[string]string{"A": "x\ny", "B": "a b", "C": "a=b"}, ""},
		{"empty value", "A=", map[string]string{"A": ""}, ""},
		{"no equals", "A=1\nnonsense", nil, "line 2"},
		{"bad key", "1A=x", nil, "line 1"},
		{"bad quote", `A="\q"`, nil, "value of A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnv("local/env", []byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

// A symlink in the task dir that leads outside it must not make the agent
// (root) create directories there: nothing is created before the whole
// path is known to stay inside.
func TestWriteCreatesNoDirectoryOutside(t *testing.T) {
	outside, err := os.MkdirTemp("", "outside-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	for _, tc := range []struct{ name, link, target, dest string }{
		{"absolute link out", "x", outside, "x/sub/file"},
		{"relative link out", "up", "../../../../../../../../../../.." + outside, "up/sub/file"},
		{"link out further down", "local/deep", outside, "local/a/../deep/sub/deeper/file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPaths(t)
			if err := os.Symlink(tc.target, filepath.Join(p.TaskDir, tc.link)); err != nil {
				t.Fatal(err)
			}
			tm, err := Parse(protocol.Template{Data: "x", Destination: tc.dest}, p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tm.write([]byte("x"), p)
			if err == nil || !strings.Contains(err.Error(), "outside the task directory") || !strings.Contains(err.Error(), tc.link) {
				t.Fatalf("write through %s -> %s: %v", tc.link, tc.target, err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("created %s outside the task dir", filepath.Join(outside, ents[0].Name()))
			}
		})
	}
}

// Links that stay inside the task dir keep working, and missing
// directories under them are created.
func TestWriteFollowsLinksInside(t *testing.T) {
	p := testPaths(t)
	if err := os.MkdirAll(filepath.Join(p.TaskDir, "local", "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(p.TaskDir, "local", "conf")); err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(protocol.Template{Data: "x", Destination: "local/conf/sub/app.conf", Perms: "0640"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := tm.write([]byte("hello"), p); err != nil || !changed {
		t.Fatalf("write: changed %v err %v", changed, err)
	}
	fi, err := os.Stat(filepath.Join(p.TaskDir, "local", "real", "sub", "app.conf"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("written file %v %v", fi, err)
	}
	if changed, err := tm.write([]byte("hello"), p); err != nil || changed {
		t.Fatalf("same content rewritten: changed %v err %v", changed, err)
	}
}
