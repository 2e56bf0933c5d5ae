package jobspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// configJob is a job whose task meta holds v = jsonencode(expr), on line 5
// (a driver's config takes only the keys the driver knows).
func configJob(expr string) []byte {
	return fmt.Appendf(nil, "job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      meta { v = jsonencode(%s) }\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n", expr)
}

// configValue is the value of configJob's expression: JSON decoded, whole
// numbers as int64.
func configValue(t *testing.T, j *Job) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(j.TaskGroups[0].Tasks[0].Meta["v"]))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var norm func(any) any
	norm = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i
			}
			f, _ := x.Float64()
			return f
		case []any:
			for i := range x {
				x[i] = norm(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = norm(x[k])
			}
		}
		return v
	}
	return norm(v)
}

// TestNomadFunctions calls each family of Nomad's jobspec2 functions: a
// call that works, and where a guard bounds what a call may cost, one it
// refuses (at the call's line, f.hcl:5).
func TestNomadFunctions(t *testing.T) {
	deep := `join("", [for i in range(1000) : "[[[[[[[[[[["])`
	big := `join("", [for i in range(3) : format("%4000s", "")])`
	tests := []struct {
		family  string
		expr    string
		want    any
		wantErr string
	}{
		{"encoding", `base64encode("hi")`, "aGk=", ""},
		{"encoding", `base64decode("aGk=")`, "hi", ""},
		{"encoding", `urlencode("a b&c")`, "a+b%26c", ""},
		{"encoding", `csvdecode("a,b\n1,2\n")`, []any{map[string]any{"a": "1", "b": "2"}}, ""},
		{"encoding", `yamldecode("a: [1, 2]")`, map[string]any{"a": []any{int64(1), int64(2)}}, ""},
		{"encoding", `yamlencode({ a = "b" })`, "\"a\": \"b\"\n", ""},
		{"encoding", `yamldecode(` + deep + `)`, nil, "nests more than 10000 levels"},
		{"encoding", `jsondecode(` + deep + `)`, nil, "nests more than 10000 levels"},
		{"encoding", `yamldecode("a: &a [1, 2]\nb: [*a, *a]\n").b`, []any{[]any{int64(1), int64(2)}, []any{int64(1), int64(2)}}, ""},
		{"encoding", `yamldecode(` + yamlLaughs + `)`, nil, "the document's aliases expand it to more than 1048576 values"},
		{"uuid", `uuidv5("dns", "example.com")`, "cfbff0d1-9375-5685-968c-48ce8b15ae17", ""},
		{"uuid", `strlen(uuidv4())`, int64(36), ""},
		{"hash", `md5("a")`, "0cc175b9c0f1b6a831c399e269772661", ""},
		{"hash", `sha1("a")`, "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", ""},
		{"hash", `sha256("a")`, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", ""},
		{"hash", `substr(sha512("a"), 0, 8)`, "1f40fc92", ""},
		{"hash", `substr(bcrypt("x", 4), 0, 4)`, "$2a$", ""},
		{"hash", `bcrypt("x", 31)`, nil, "bcrypt cost above 12"},
		{"hash", `rsadecrypt("eA==", ` + big + `)`, nil, "private key longer than 8192 bytes"},
		{"cidr", `cidrhost("10.0.0.0/24", 5)`, "10.0.0.5", ""},
		{"cidr", `cidrnetmask("10.0.0.0/24")`, "255.255.255.0", ""},
		{"cidr", `cidrsubnet("10.0.0.0/16", 8, 2)`, "10.0.2.0/24", ""},
		{"cidr", `cidrsubnets("10.0.0.0/16", 8, 8)`, []any{"10.0.0.0/24", "10.0.1.0/24"}, ""},
		{"string", `strrev("abc")`, "cba", ""},
		{"string", `reverse("abc")`, "cba", ""},
		{"string", `reverse(["a", "b"])`, []any{"b", "a"}, ""},
		{"string", `regex_replace("a1b2", "[0-9]", "X")`, "aXbX", ""},
		{"string", `regex_replace(format("%4096s", ""), "", format("%4096s", "x"))`, nil, "result would be more than"},
		{"time", `formatdate("YYYY-MM-DD", "2024-01-02T03:04:05Z")`, "2024-01-02", ""},
		{"time", `timeadd("2024-01-02T03:04:05Z", "1h")`, "2024-01-02T04:04:05Z", ""},
		{"collection", `setunion(["a"], ["b"])`, []any{"a", "b"}, ""},
		{"collection", `setintersection(["a", "b"], ["b"])`, []any{"b"}, ""},
		{"collection", `length(setproduct(["a", "b"], ["c", "d"]))`, int64(4), ""},
		{"collection", `setproduct(range(1024), range(1024))`, nil, "more than 1048576 values"},
		{"collection", `chunklist(["a", "b", "c"], 2)`, []any{[]any{"a", "b"}, []any{"c"}}, ""},
		{"collection", `coalescelist([], ["a"])`, []any{"a"}, ""},
		{"number", `pow(2, 10)`, int64(1024), ""},
		{"number", `log(8, 2)`, int64(3), ""},
		{"number", `signum(-3)`, int64(-1), ""},
		{"number", `log(-1, 10)`, nil, "log takes a number of zero or more"},
		{"number", `pow(-8, 0.5)`, nil, "has no real result"},
		{"type", `convert("1", number)`, int64(1), ""},
		{"type", `try(tonumber("x"), 7)`, int64(7), ""},
		{"type", `can(tonumber("x"))`, false, ""},
		{"path", `basename("a/b.txt")`, "b.txt", ""},
		{"path", `dirname("a/b.txt")`, "a", ""},
		{"path", `abspath("x")`, nil, "abspath() answers with a directory of the machine that parses the job"},
		{"path", `pathexpand("~/x")`, nil, "pathexpand() answers with the home directory"},
		{"path", `fileset(".", "*.conf")`, nil, "fileset() lists a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+tt.expr, func(t *testing.T) {
			j, err := Parse("f.hcl", configJob(tt.expr), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "f.hcl:5:") {
					t.Fatalf("err = %v, want f.hcl:5: ... %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := configValue(t, j); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// yamlLaughs is an HCL string of a YAML document whose 30 lines of aliases
// stand for 10^30 values.
var yamlLaughs = func() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(p+", ", 10), ", "))
	}
	return fmt.Sprintf("%q", b.String())
}()

// TestFileFunctions: file(), filebase64() and fileexists() read through
// ParseOptions.ReadFile, within MaxReadBytes; without a reader they are
// refused with the way to submit.
func TestFileFunctions(t *testing.T) {
	files := map[string][]byte{"conf/app.conf": []byte("port = 8080\n"), "bin": {0xff, 0x00}}
	opts := ParseOptions{Filename: "f.hcl", ReadFile: MapReader(files)}
	for _, tt := range []struct {
		expr    string
		want    any
		wantErr string
	}{
		{`file("conf/app.conf")`, "port = 8080\n", ""},
		{`filebase64("bin")`, "/wA=", ""},
		{`fileexists("conf/app.conf")`, true, ""},
		{`fileexists("nope")`, false, ""},
		{`file("nope")`, nil, "nope was not sent with the job"},
		{`file("bin")`, nil, `use filebase64("bin")`},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			j, _, err := ParseWith(configJob(tt.expr), opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "f.hcl:5:") {
					t.Fatalf("err = %v, want f.hcl:5: ... %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := configValue(t, j); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	t.Run("no reader", func(t *testing.T) {
		for _, fn := range []string{"file", "filebase64", "fileexists"} {
			expr := fn + `("a")`
			_, _, err := ParseWith(configJob(expr), ParseOptions{Filename: "f.hcl"})
			if err == nil || !strings.HasPrefix(err.Error(), "f.hcl:5:") || !strings.Contains(err.Error(), fn+"() reads files next to the job file: submit with `central job submit`, which sends them, or inline the content") {
				t.Errorf("%s: err = %v", expr, err)
			}
		}
	})
	t.Run("total bytes", func(t *testing.T) {
		mib := []byte(strings.Repeat("x", 1<<20))
		big := map[string][]byte{"a": mib, "b": mib, "c": mib}
		_, _, err := ParseWith(configJob(`[file("a"), file("b"), file("c")]`), ParseOptions{Filename: "f.hcl", ReadFile: MapReader(big)})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("add up to more than %d bytes", MaxReadBytes)) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestRecordingReaderRoundTrip: what the CLI reads next to the job file is
// what the server, given only those files, reads again.
func TestRecordingReaderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "app.conf"), []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := configJob(`[file("conf/app.conf"), fileexists("missing.conf"), fileexists("conf/app.conf")]`)
	read, files := RecordingReader(dir)
	j1, _, err := ParseWith(src, ParseOptions{Filename: "f.hcl", ReadFile: read})
	if err != nil {
		t.Fatal(err)
	}
	got := files()
	if want := map[string][]byte{"conf/app.conf": []byte("a = 1\n")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
	j2, _, err := ParseWith(src, ParseOptions{Filename: "f.hcl", ReadFile: MapReader(got)})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := configValue(t, j1), configValue(t, j2); !reflect.DeepEqual(a, b) {
		t.Errorf("CLI parse %#v, server parse %#v", a, b)
	}
	// Only regular files: a directory (or a FIFO, a device) is refused.
	if _, err := read("conf"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("read(dir) = %v", err)
	}
	if _, err := read("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read(missing) = %v, want fs.ErrNotExist", err)
	}
}

// TestEnvVars: NOMAD_VAR_ values apply to declared variables only, below
// -var and above the default, converted to the variable's type.
func TestEnvVars(t *testing.T) {
	src := []byte(`variable "image" {
  default = "default"
}
variable "replicas" {
  type    = number
  default = 1
}
job "x" {
  group "g" {
    count = var.replicas
    task "t" {
      driver = "exec"
      config { command = var.image }
    }
  }
}
`)
	for _, tt := range []struct {
		name      string
		vars, env map[string]string
		image     string
		count     int
		wantErr   string
	}{
		{"default", nil, nil, "default", 1, ""},
		{"env", nil, map[string]string{"image": "env", "replicas": "3"}, "env", 3, ""},
		{"-var over env", map[string]string{"image": "cli"}, map[string]string{"image": "env"}, "cli", 1, ""},
		{"undeclared env ignored", nil, map[string]string{"other": "x"}, "default", 1, ""},
		{"env of the wrong type", nil, map[string]string{"replicas": "many"}, "", 0, `environment variable NOMAD_VAR_replicas="many": not a number`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j, _, err := ParseWith(src, ParseOptions{Filename: "f.hcl", Vars: tt.vars, EnvVars: tt.env})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := j.TaskGroups[0].Tasks[0].Config["command"]; got != tt.image {
				t.Errorf("image = %v, want %s", got, tt.image)
			}
			if got := j.TaskGroups[0].Count; got != tt.count {
				t.Errorf("count = %d, want %d", got, tt.count)
			}
		})
	}
}

// TestVariablesBlock: Nomad's variables { name = default } shorthand
// declares variables; -var overrides them, converted to the default's type.
func TestVariablesBlock(t *testing.T) {
	src := []byte(`variables {
  image    = "nginx"
  replicas = 2
}
job "x" {
  group "g" {
    count = var.replicas
    task "t" {
      driver = "exec"
      config { command = var.image }
    }
  }
}
`)
	j, err := Parse("f.hcl", src, map[string]string{"replicas": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if j.TaskGroups[0].Count != 4 || j.TaskGroups[0].Tasks[0].Config["command"] != "nginx" {
		t.Errorf("count %d, command %v", j.TaskGroups[0].Count, j.TaskGroups[0].Tasks[0].Config["command"])
	}
	dup := append([]byte("variable \"image\" {\n  default = \"x\"\n}\n"), src...)
	if _, err := Parse("f.hcl", dup, nil); err == nil || !strings.Contains(err.Error(), `f.hcl:5: variable "image" is declared twice; remove one; the first is at line 1`) {
		t.Errorf("err = %v", err)
	}
}

// TestVariableSensitiveNullable: Nomad refuses both (they are Terraform
// settings); Tether says so at the line, and accepts the values that ask
// for what happens anyway.
func TestVariableSensitiveNullable(t *testing.T) {
	for _, tt := range []struct{ attr, wantErr string }{
		{"sensitive = true", `f.hcl:3: variable "a": "sensitive" is not supported: Nomad's job files have no sensitive variables`},
		{"nullable = false", `f.hcl:3: variable "a": "nullable" is not supported: Nomad's job files have no nullable`},
		{"sensitive = false", ""},
		{"nullable = true", ""},
	} {
		src := fmt.Appendf(nil, "variable \"a\" {\n  default = \"x\"\n  %s\n}\n%s", tt.attr, configJob("var.a"))
		_, err := Parse("f.hcl", src, nil)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tt.attr, err, tt.wantErr)
		}
	}
}

// TestUnknownReferencesKeptAsText: as jobspec2, a reference whose root is
// not var or local is kept as "${...}" text; the decoder warns, with the
// variable it probably meant.
func TestUnknownReferencesKeptAsText(t *testing.T) {
	src := []byte(`variable "region" {
  default = "eu"
}
job "x" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args = ["${name}", "${foo.bar}", region, "${NOMAD_ALLOC_ID}", "${attr.unique.hostname}", "$${kept}"]
      }
      template {
        destination = "local/run.sh"
        data        = "for i in 1 2; do count=$i; echo ${count}; done"
      }
    }
  }
}
`)
	j, warnings, err := ParseWithWarnings("f.hcl", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := j.TaskGroups[0].Tasks[0]
	want := []any{"${name}", "${foo.bar}", "${region}", "${NOMAD_ALLOC_ID}", "${attr.unique.hostname}", "${kept}"}
	if got := tk.Config["args"]; !reflect.DeepEqual(got, want) {
		t.Errorf("args = %#v, want %#v", got, want)
	}
	if got := tk.Templates[0].Data; got != "for i in 1 2; do count=$i; echo ${count}; done" {
		t.Errorf("template data = %q", got)
	}
	joined := strings.Join(warnings, "\n")
	for _, w := range []string{
		`f.hcl:10: unknown reference "name" is kept as the text "${name}", as Nomad does; write $${name} to keep it as text without this warning`,
		`f.hcl:10: unknown reference "foo" is kept as the text "${foo.bar}"`,
		`f.hcl:10: unknown reference "region" is kept as the text "${region}", as Nomad does; did you mean var.region?`,
		`f.hcl:14: unknown reference "count"`,
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
	if strings.Contains(joined, "NOMAD_ALLOC_ID") || strings.Contains(joined, "attr") || strings.Contains(joined, `reference "kept"`) {
		t.Errorf("runtime references or escaped text warned about:\n%s", joined)
	}
	if n := strings.Count(joined, `"name"`); n != 1 {
		t.Errorf("%d warnings for ${name}, want 1:\n%s", n, joined)
	}
}

// TestServicePortRuntimeVariable: a service or check port written as the
// port's runtime variable means the group's port of that label, as it
// does on Nomad, including the cleaned spelling of a label with a "-".
func TestServicePortRuntimeVariable(t *testing.T) {
	src := []byte(`job "x" {
  group "g" {
    network {
      port "api" {}
      port "public-api" {}
    }
    service {
      name = "api"
      port = "${NOMAD_PORT_api}"
      check {
        type     = "tcp"
        port     = "${NOMAD_HOST_PORT_public_api}"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      service {
        name = "pub"
        port = "${NOMAD_PORT_public-api}"
      }
    }
  }
}
`)
	j, err := Parse("f.hcl", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := j.TaskGroups[0]
	if got := g.Services[0].PortLabel; got != "api" {
		t.Errorf("service port = %q, want api", got)
	}
	if got := g.Services[0].Checks[0].PortLabel; got != "public-api" {
		t.Errorf("check port = %q, want public-api", got)
	}
	if got := g.Tasks[0].Services[0].PortLabel; got != "public-api" {
		t.Errorf("task service port = %q, want public-api", got)
	}
	bad := strings.Replace(string(src), "${NOMAD_PORT_api}", "${NOMAD_PORT_web}", 1)
	if _, err := Parse("f.hcl", []byte(bad), nil); err == nil || !strings.Contains(err.Error(), `f.hcl:9: service "api" uses port "${NOMAD_PORT_web}", which the group's network does not define`) {
		t.Errorf("err = %v", err)
	}
}

// TestArtifactSharedAllocDir: a destination in the allocation's shared
// directory is accepted; one that leaves the allocation is not.
func TestArtifactSharedAllocDir(t *testing.T) {
	for dest, ok := range map[string]bool{"../alloc/data/": true, "../alloc": true, "local/x/": true, "../../etc": false, "../other/local": false, "/etc": false} {
		src := fmt.Sprintf(`job "x" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      artifact {
        source      = "https://example.com/m.bin"
        destination = %q
      }
    }
  }
}
`, dest)
		_, err := Parse("f.hcl", []byte(src), nil)
		if ok != (err == nil) {
			t.Errorf("%s: err = %v", dest, err)
		}
		if err != nil && !strings.Contains(err.Error(), "f.hcl:8: artifact destination") {
			t.Errorf("%s: err = %v", dest, err)
		}
	}
}

// TestKnownListsDeduplicated: a name that is both an attribute and a block
// (meta, env) is listed once.
func TestKnownListsDeduplicated(t *testing.T) {
	_, err := Parse("f.hcl", []byte("job \"x\" {\n  zzzzzzzzzz { }\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("err = %v", err)
	}
	known := err.Error()[strings.Index(err.Error(), "known: ")+len("known: "):]
	seen := map[string]bool{}
	for _, k := range strings.Split(strings.SplitN(known, "\n", 2)[0], ", ") {
		if seen[k] {
			t.Errorf("%q listed twice: %s", k, known)
		}
		seen[k] = true
	}
	if !seen["meta"] {
		t.Errorf("meta not listed: %s", known)
	}
}
