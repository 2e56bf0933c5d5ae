package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec/corpus"
)

// TestCorpusJobValidate runs `central job validate` without a cluster on
// every job file of the repository (package corpus), as a user would: the
// file from disk, its -var and -var-file flags, its NOMAD_VAR_ variables
// in the environment, file() next to it. A file with "# want:" lines must
// exit non-zero with those texts on stderr; every other file must exit 0
// with "Job validation successful". The hcl blocks of docs are written to
// a file first.
func TestCorpusJobValidate(t *testing.T) {
	root, err := corpus.Root()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := corpus.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(root, c.Name)
			if strings.HasPrefix(c.Name, "docs/") {
				path = filepath.Join(t.TempDir(), "doc.hcl")
				if err := os.WriteFile(path, c.Src, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"job", "validate"}
			for _, v := range c.Vars {
				args = append(args, "-var", v)
			}
			for _, vf := range c.VarFiles {
				args = append(args, "-var-file", filepath.Join(c.Dir, vf))
			}
			code, out, errOut := runEnviron(t, noEnv, c.Env, append(args, path)...)
			if len(c.Wants) == 0 {
				if code != exitOK || !strings.Contains(out, "Job validation successful") {
					t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
				}
				return
			}
			if code == exitOK {
				t.Fatalf("exit 0 (stdout %q); want a refusal containing %q", out, c.Wants)
			}
			if err := c.Verdict(false, errOut); err != nil {
				t.Error(err)
			}
		})
	}
}
