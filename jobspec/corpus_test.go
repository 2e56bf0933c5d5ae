package jobspec_test

import (
	"errors"
	"testing"

	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/jobspec/corpus"
)

// TestCorpus runs every job file of the repository (package corpus: the
// examples, the docs' jobs, the testdata and our Nomad-shaped files)
// through jobspec.ParseWith, the entry point of the CLI and the API, with
// the file's -var, -var-file and NOMAD_VAR_ values and file() next to it:
// a file with "# want:" lines must be refused with those texts, every
// other file accepted.
func TestCorpus(t *testing.T) {
	root, err := corpus.Root()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := corpus.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d corpus files found; the globs are wrong", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if err := parseCase(c); err != nil {
				t.Error(err)
			}
		})
	}
}

// parseCase parses c as the CLI would and returns how the verdict differs
// from the one c asks for, or nil.
func parseCase(c corpus.Case) error {
	opts, _, err := c.Options()
	if err != nil {
		return err
	}
	j, _, err := jobspec.ParseWith(c.Src, opts)
	if err != nil {
		if j != nil {
			return errors.New("returned a job along with an error")
		}
		if !errors.Is(err, jobspec.ErrInvalidJob) {
			return errors.New("error does not match ErrInvalidJob: " + err.Error())
		}
		return c.Verdict(false, err.Error())
	}
	if j == nil {
		return errors.New("no job and no error")
	}
	return c.Verdict(true, "")
}
