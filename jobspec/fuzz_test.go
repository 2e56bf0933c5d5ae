package jobspec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic (the
// recover in ParseWithWarnings would turn a panic into an error, so the
// fuzzer also fails on that error), must return exactly one of a job or an
// error, and a job it returns must validate again after a JSON round trip.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`job "a" { group "g" { task "t" { driver = "exec" } } }`), "")
	f.Add([]byte("job \"a\" {\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n config { args = [\"${NOMAD_PORT_http}\", attr.cpu.arch] }\n }\n }\n}\n"), "")
	f.Add([]byte("variable \"n\" {\n type = number\n}\njob \"a\" {\n group \"g\" {\n count = var.n\n task \"t\" { driver = \"exec\" }\n }\n}\n"), "n=3")
	f.Add([]byte("job \"p\" {\n type = \"batch\"\n parameterized {\n payload = \"required\"\n meta_required = [\"x\"]\n }\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n dispatch_payload { file = \"in/put.json\" }\n }\n }\n}\n"), "")
	// Nomad's functions, and calls their guards refuse.
	for _, expr := range []string{
		`base64encode(uuidv5("dns", "a"))`, `yamlencode(yamldecode("a: [1, 2]"))`, `csvdecode("a\n1\n")`,
		`cidrsubnets("10.0.0.0/16", 8, 8)`, `try(convert("x", number), 1)`, `regex_replace("a1", "[0-9]", "$0$0")`,
		`setproduct(range(1024), range(1024))`, `bcrypt("x", 31)`, `formatdate("YYYY", timeadd("2024-01-01T00:00:00Z", "1h"))`,
		`file("x")`, `fileexists("x")`, `reverse("ab")`, `"${name} ${foo.bar}"`,
	} {
		f.Add(configJob(expr), "")
	}
	// Deep nesting and evaluation bombs (limits_test.go) must come back
	// as errors.
	for _, src := range deepShapes() {
		f.Add([]byte(src), "")
	}
	for _, src := range bombs() {
		f.Add([]byte(src), "")
	}
	f.Fuzz(func(t *testing.T, src []byte, varArg string) {
		var vars map[string]string
		if varArg != "" {
			vars, _ = ParseVarArgs([]string{varArg})
		}
		j, _, err := ParseWithWarnings("fuzz.hcl", src, vars)
		if (j == nil) == (err == nil) {
			t.Fatalf("job %v and error %v: want exactly one", j, err)
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) && len(e.Summary) > 30 && e.Summary[:30] == "the HCL parser failed on this " {
				t.Fatalf("parser panicked: %v", err)
			}
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("error does not match ErrInvalidJob: %v", err)
			}
			return
		}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back Job
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		back.Canonicalize()
		if err := back.Validate(); err != nil {
			t.Fatalf("parsed job fails validation after a JSON round trip: %v\n%s", err, b)
		}
	})
}

// FuzzNestingBound checks checkNesting against the parser: whatever it
// lets through parses into a tree at most a few times MaxNesting deep (a
// counted level becomes at most a handful of nodes), so hcl's recursive
// parser and evaluator stay far from the stack's end. A shape it
// under-counts shows up here as a deep tree, or as a stack overflow.
func FuzzNestingBound(f *testing.F) {
	f.Add([]byte(okJob))
	for _, src := range deepShapes() {
		f.Add([]byte(src[:min(len(src), 4096)]))
	}
	f.Add([]byte("a = " + strings.Repeat("x[y]", 300)))
	f.Add([]byte("a = " + strings.Repeat("true ? 1 : ", 300) + "1"))
	f.Add([]byte("a = \"" + strings.Repeat("%{ for x in y }", 300) + "\""))
	f.Fuzz(func(t *testing.T, src []byte) {
		if checkNesting("fuzz.hcl", src, false) != nil {
			return
		}
		file, _ := hclsyntax.ParseConfig(src, "fuzz.hcl", hcl.Pos{Line: 1, Column: 1})
		if file == nil {
			return
		}
		w := &depthWalker{}
		hclsyntax.Walk(file.Body.(*hclsyntax.Body), w)
		if w.max > 6*MaxNesting {
			t.Fatalf("checkNesting passed a file whose tree is %d nodes deep", w.max)
		}
	})
}

type depthWalker struct{ depth, max int }

func (w *depthWalker) Enter(hclsyntax.Node) hcl.Diagnostics {
	w.depth++
	w.max = max(w.max, w.depth)
	return nil
}

func (w *depthWalker) Exit(hclsyntax.Node) hcl.Diagnostics {
	w.depth--
	return nil
}
