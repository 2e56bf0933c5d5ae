package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/good/*.json from the parser's output")

// golden is what a good job file must parse to.
type golden struct {
	Job      *Job     `json:"job"`
	Warnings []string `json:"warnings"`
}

// TestParseGood parses every testdata/good/*.hcl file and compares the job
// and warnings with the .json file next to it (go test -update rewrites them).
func TestParseGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			j, warns, err := ParseWithWarnings(filepath.Base(path), mustRead(t, path), nil)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := json.MarshalIndent(golden{Job: j, Warnings: warns}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			want := strings.TrimSuffix(path, ".hcl") + ".json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if exp := mustRead(t, want); !bytes.Equal(got, exp) {
				t.Errorf("%s differs from the parse (run go test -update and review the diff):\n%s", want, got)
			}
		})
	}
}

// TestParseBad parses every testdata/bad/*.hcl file and checks that the
// error contains each "# want: ..." line of the file. "# var: k=v" lines
// are passed as -var flags.
func TestParseBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src := mustRead(t, path)
			var wants, varArgs []string
			for _, line := range strings.Split(string(src), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
				if v, ok := strings.CutPrefix(line, "# var: "); ok {
					varArgs = append(varArgs, v)
				}
			}
			if len(wants) == 0 {
				t.Fatal("file has no # want: line")
			}
			vars, err := ParseVarArgs(varArgs)
			if err != nil {
				t.Fatal(err)
			}
			j, err := Parse(filepath.Base(path), src, vars)
			if err == nil {
				t.Fatalf("parsed without error: %+v", j)
			}
			if j != nil {
				t.Error("returned a job along with the error")
			}
			if !errors.Is(err, ErrInvalidJob) {
				t.Errorf("error does not match ErrInvalidJob: %v", err)
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
		})
	}
}

// TestExampleHello checks examples/hello.hcl, which docs and demos run.
func TestExampleHello(t *testing.T) {
	j, err := ParseFile("../examples/hello.hcl", nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := j.TaskGroups[0].Tasks[0]
	if j.ID != "hello" || j.Type != JobTypeService || j.Datacenters[0] != "dc1" ||
		tk.Driver != "exec" || tk.Resources.CPU != 50 || tk.Resources.MemoryMB != 32 {
		t.Errorf("unexpected job: %+v task %+v", j, tk)
	}
	args, _ := tk.Config["args"].([]any)
	if len(args) != 2 || !strings.Contains(args[1].(string), "$NOMAD_ALLOC_ID") {
		t.Errorf("args = %#v", args)
	}
}
