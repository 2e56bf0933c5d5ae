package jobspec

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestParseVarFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		want            map[string]string
		err             string // substring; "" means success
	}{
		{name: "hcl literals", file: "prod.hcl",
			src:  "image = \"web:1\"\ncount = 3\ndebug = true\ndcs = [\"dc1\", \"dc2\"]\nlabels = { tier = \"front\", \"x-y\" = \"z\" }\nneg = -2\ntext = \"a $${b}\"\n",
			want: map[string]string{"image": "web:1", "count": "3", "debug": "true", "dcs": `["dc1", "dc2"]`, "labels": "{\n  tier = \"front\"\n  x-y  = \"z\"\n}", "neg": "-2", "text": "a ${b}"}},
		{name: "json", file: "prod.json",
			src:  `{"image": "web:${x}", "count": 3, "dcs": ["dc1"], "labels": {"tier": "front"}}`,
			want: map[string]string{"image": "web:${x}", "count": "3", "dcs": `["dc1"]`, "labels": "{\n  tier = \"front\"\n}"}},
		{name: "reference refused", file: "v.hcl", src: "a = 1\nb = var.a\n", err: "v.hcl:2: variable \"b\": a variables file holds only literal values"},
		{name: "function refused", file: "v.hcl", src: "b = upper(\"x\")\n", err: "v.hcl:1: variable \"b\""},
		{name: "interpolation refused", file: "v.hcl", src: "b = \"x${1+1}\"\n", err: "v.hcl:1: variable \"b\""},
		{name: "for refused", file: "v.hcl", src: "b = [for x in [1,2]: [for y in [1,2]: x]]\n", err: "v.hcl:1: variable \"b\""},
		{name: "declaration refused", file: "v.hcl", src: "\nvariable \"x\" {\n  default = 1\n}\n", err: "v.hcl:2: variable \"x\" is declared in a variables file"},
		{name: "block refused", file: "v.hcl", src: "job \"x\" {}\n", err: "v.hcl:1: block \"job\" in a variables file"},
		{name: "null refused", file: "v.hcl", src: "a = null\n", err: "v.hcl:1: variable \"a\": null"},
		{name: "syntax", file: "v.hcl", src: "a = \n", err: "v.hcl:1:"},
		{name: "json syntax", file: "v.json", src: "{\"a\": }", err: "v.json:1:"},
		{name: "too deep", file: "v.hcl", src: "a = " + strings.Repeat("[", 300) + strings.Repeat("]", 300), err: "v.hcl:1:"},
		{name: "too big", file: "v.hcl", src: "a = \"" + strings.Repeat("x", MaxVarFileBytes) + "\"", err: "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVarFile(tc.file, []byte(tc.src))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestParseVarFileValuesTyped: what ParseVarFile returns, given as Vars,
// gives each variable its typed value.
func TestParseVarFileValuesTyped(t *testing.T) {
	vars, err := ParseVarFile("prod.hcl", []byte("dcs = [\"dc2\", \"dc3\"]\ncount = 4\nimage = \"a \\\"quoted\\\" ${x}\"\nmeta = { team = \"edge\" }\n"))
	if err == nil {
		t.Fatal("a ${x} interpolation in a variables file was accepted")
	}
	vars, err = ParseVarFile("prod.hcl", []byte("dcs = [\"dc2\", \"dc3\"]\ncount = 4\nimage = \"a \\\"quoted\\\" $${x}\"\nmeta = { team = \"edge\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := `
variable "dcs" {
  type = list(string)
}
variable "count" {
  type = number
}
variable "image" {
  type = string
}
variable "meta" {
  type = map(string)
}
job "web" {
  datacenters = var.dcs
  meta        = var.meta
  group "g" {
    count = var.count
    task "t" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args    = [var.image]
      }
    }
  }
}
`
	job, _, err := ParseWith([]byte(src), ParseOptions{Filename: "web.hcl", Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(job.Datacenters, ","); got != "dc2,dc3" {
		t.Errorf("datacenters = %q", got)
	}
	if job.TaskGroups[0].Count != 4 || job.Meta["team"] != "edge" {
		t.Errorf("count = %d, meta = %v", job.TaskGroups[0].Count, job.Meta)
	}
	if args := job.TaskGroups[0].Tasks[0].Config["args"]; args == nil || args.([]any)[0] != `a "quoted" ${x}` {
		t.Errorf("args = %#v", args)
	}
}

// FuzzParseVarFile: a variables file never panics the CLI, and what it
// accepts is one string per valid name.
func FuzzParseVarFile(f *testing.F) {
	for _, s := range []string{
		"image = \"web:1\"\ncount = 3\n", `dcs = ["a", "b"]`, "m = { a = 1, \"b\" = [true] }", "x = -1.5",
		`{"image": "x", "n": [1, {"a": null}]}`, "variable \"x\" {}", "a = var.b", "a = [for x in [1]: x]", "a = \"${1}\"",
	} {
		f.Add("v.hcl", []byte(s))
		f.Add("v.json", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, src []byte) {
		m, err := ParseVarFile(name, src)
		if err != nil {
			return
		}
		for k := range m {
			if !hclsyntax.ValidIdentifier(k) {
				t.Fatalf("accepted name %q", k)
			}
		}
	})
}
