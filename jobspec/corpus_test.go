package jobspec_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

// The corpus is every job file a user can see in this repository: the
// examples, the hcl blocks of docs/*.md that hold a job, the parser's
// testdata and testdata/nomad-shapes (our own files in the shapes Nomad
// users write, with only the driver changed). Each goes through
// jobspec.ParseWith, the entry point of the CLI and the API, with its
// -var, -var-file and NOMAD_VAR_ values. A file with "# want: text" lines
// must be refused with an error containing each text; every other file
// must be accepted.
//
// Directives, in a file's comment lines:
//
//	# want: text            the file is refused, with text in the error
//	# var: name=value       as -var name=value
//	# var-file: path        as -var-file path (relative to the file)
//	# env: NOMAD_VAR_x=v    as the environment variable NOMAD_VAR_x=v
//
// file() reads relative to the job file, as the CLI does.

// corpusWaiting lists files that need a feature not landed yet, with the
// feature. Such a file is still run: if it now gives the expected verdict,
// the test fails so that the entry is removed.
var corpusWaiting = map[string]string{
	"testdata/nomad-shapes/artifact-alloc.hcl":                `artifact destinations that stay in the allocation dir ("../alloc/x")`,
	"testdata/nomad-shapes/dynamic.hcl":                       "dynamic blocks",
	"testdata/nomad-shapes/env-vars.hcl":                      "NOMAD_VAR_ values (ParseOptions.EnvVars)",
	"testdata/nomad-shapes/functions.hcl":                     "file(), base64encode and uuidv5",
	"testdata/nomad-shapes/group-service-port.hcl":            `a service port written "${NOMAD_PORT_label}"`,
	"testdata/nomad-shapes/literal-refs.hcl":                  "unknown lower-case references kept as text",
	"testdata/nomad-shapes/refuse-docker-auth-soft-fail.hcl":  "podman config checked at submit",
	"testdata/nomad-shapes/refuse-docker-mount.hcl":           "podman config checked at submit",
	"testdata/nomad-shapes/refuse-docker-port-map.hcl":        "podman config checked at submit",
	"testdata/nomad-shapes/refuse-docker-privileged.hcl":      "podman config checked at submit",
	"testdata/nomad-shapes/refuse-exec-unknown-key.hcl":       "exec config checked at submit",
	"testdata/nomad-shapes/refuse-misspelt-block.hcl":         `"known:" lists without repeats`,
	"testdata/nomad-shapes/refuse-template-consul-key.hcl":    "template functions checked at submit",
	"testdata/nomad-shapes/refuse-template-nomadservices.hcl": "template functions checked at submit",
	"testdata/nomad-shapes/refuse-template-nomadvar.hcl":      "template functions checked at submit",
	"testdata/nomad-shapes/refuse-template-sockaddr.hcl":      "template functions checked at submit",
	"testdata/nomad-shapes/refuse-template-vault-secret.hcl":  "template functions checked at submit",
}

// A corpus case is one job file and how to submit it.
type corpusCase struct {
	name     string // path as the test reports it
	dir      string // directory file() and -var-file paths are relative to
	src      []byte
	wants    []string
	vars     []string // -var arguments, in order
	varFiles []string
	env      []string // NAME=value
}

func TestCorpus(t *testing.T) {
	cases := corpus(t)
	if len(cases) < 40 {
		t.Fatalf("only %d corpus files found; the globs are wrong", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.check()
			feature, waiting := corpusWaiting[c.name]
			switch {
			case waiting && err == nil:
				t.Errorf("listed as waiting for %s, but gives the expected verdict now: remove it from corpusWaiting", feature)
			case waiting:
				t.Logf("waiting for %s: %v", feature, err)
			case err != nil:
				t.Error(err)
			}
		})
	}
	for name := range corpusWaiting {
		if !slices.ContainsFunc(cases, func(c corpusCase) bool { return c.name == name }) {
			t.Errorf("corpusWaiting names %s, which is not in the corpus", name)
		}
	}
}

// check parses the case and compares the verdict with its wants.
func (c corpusCase) check() error {
	j, warnings, err := c.parse()
	if len(c.wants) == 0 {
		if err != nil {
			return fmt.Errorf("refused: %v", err)
		}
		if j == nil {
			return errors.New("accepted, but no job returned")
		}
		return nil
	}
	if err == nil {
		return fmt.Errorf("accepted (warnings %q); want an error containing %q", warnings, c.wants)
	}
	if j != nil {
		return fmt.Errorf("returned a job along with the error %v", err)
	}
	if !errors.Is(err, jobspec.ErrInvalidJob) {
		return fmt.Errorf("error does not match ErrInvalidJob: %v", err)
	}
	var missing []string
	for _, w := range c.wants {
		if !strings.Contains(err.Error(), w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("error lacks %q; got:\n%v", missing, err)
	}
	return checkKnownLists(err.Error())
}

// parse submits the case as the CLI does: -var-file values, then -var
// values over them, NOMAD_VAR_ values below both, file() next to the file.
func (c corpusCase) parse() (*jobspec.Job, []string, error) {
	vars := map[string]string{}
	for _, vf := range c.varFiles {
		path := filepath.Join(c.dir, vf)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		fv, err := jobspec.ParseVarFile(filepath.Base(path), src)
		if err != nil {
			return nil, nil, err
		}
		maps.Copy(vars, fv)
	}
	flagVars, err := jobspec.ParseVarArgs(c.vars)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(vars, flagVars)
	env := map[string]string{}
	for _, kv := range c.env {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "NOMAD_VAR_"); ok {
			env[name] = v
		}
	}
	root := os.DirFS(c.dir)
	return jobspec.ParseWith(c.src, jobspec.ParseOptions{
		Filename: filepath.Base(c.name),
		Vars:     vars,
		EnvVars:  env,
		ReadFile: func(path string) ([]byte, error) { return fs.ReadFile(root, filepath.ToSlash(filepath.Clean(path))) },
	})
}

// knownList matches the "known: a, b, c" lists of errors.
var knownList = regexp.MustCompile(`known: ([^)\n]*)`)

// checkKnownLists fails on a "known:" list that names something twice
// ("known: env, env, meta"): the list is built from every place a name is
// read, and a repeat tells the user nothing.
func checkKnownLists(msg string) error {
	for _, m := range knownList.FindAllStringSubmatch(msg, -1) {
		seen := map[string]bool{}
		for _, n := range strings.Split(m[1], ", ") {
			if seen[n] {
				return fmt.Errorf("the list %q names %q twice", m[0], n)
			}
			seen[n] = true
		}
	}
	return nil
}

// corpus collects every case, sorted by name.
func corpus(t *testing.T) []corpusCase {
	t.Helper()
	var cases []corpusCase
	add := func(name, dir string, src []byte) {
		c := corpusCase{name: name, dir: dir, src: src}
		for _, line := range strings.Split(string(src), "\n") {
			if d, ok := strings.CutPrefix(line, "# want: "); ok {
				c.wants = append(c.wants, d)
			}
			if d, ok := strings.CutPrefix(line, "# var: "); ok {
				c.vars = append(c.vars, d)
			}
			if d, ok := strings.CutPrefix(line, "# var-file: "); ok {
				c.varFiles = append(c.varFiles, d)
			}
			if d, ok := strings.CutPrefix(line, "# env: "); ok {
				c.env = append(c.env, d)
			}
		}
		cases = append(cases, c)
	}
	readDir := func(pattern string) {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s: %v", pattern, err)
		}
		for _, f := range files {
			add(filepath.ToSlash(f), filepath.Dir(f), mustReadFile(t, f))
		}
	}
	readDir("testdata/nomad-shapes/*.hcl")
	readDir("testdata/good/*.hcl")
	readDir("testdata/bad/*.hcl")
	err := filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".hcl") {
			return err
		}
		src := mustReadFile(t, path)
		add(strings.TrimPrefix(filepath.ToSlash(path), "../"), filepath.Dir(path), withExampleVars(src))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	for _, path := range docs {
		for _, b := range docJobBlocks(string(mustReadFile(t, path))) {
			add(fmt.Sprintf("docs/%s:%d", filepath.Base(path), b.line), "../docs", []byte(b.text))
		}
	}
	slices.SortFunc(cases, func(a, b corpusCase) int { return strings.Compare(a.name, b.name) })
	return cases
}

// exampleVars are the -var values the examples' comments pass for their
// variables without a default.
var exampleVars = map[string]string{
	"bin_dir": "/opt/edge-shop/bin",
	"module":  "/opt/wasm/web.wasm",
}

// withExampleVars prepends a "# var:" line for each of exampleVars the
// file declares.
func withExampleVars(src []byte) []byte {
	var head []byte
	for _, name := range slices.Sorted(maps.Keys(exampleVars)) {
		if strings.Contains(string(src), fmt.Sprintf("variable %q", name)) {
			head = fmt.Appendf(head, "# var: %s=%s\n", name, exampleVars[name])
		}
	}
	return append(head, src...)
}

type docBlock struct {
	line int // of the block's first line in the .md file
	text string
}

// jobBlock finds a job block at the start of a line.
var jobBlock = regexp.MustCompile(`(?m)^job\s+"`)

// docJobBlocks returns the ```hcl blocks of a markdown page that hold a
// top-level job block. A block that elides part of the job with a line
// "..." is a fragment, not a file, and is left out.
func docJobBlocks(md string) []docBlock {
	var out []docBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```hcl" {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		text := strings.Join(lines[start:end], "\n") + "\n"
		i = end
		if !jobBlock.MatchString(text) || elided(text) {
			continue
		}
		out = append(out, docBlock{line: start + 1, text: text})
	}
	return out
}

func elided(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(l); l == "..." || strings.HasPrefix(l, "...") && !strings.Contains(l, "=") {
			return true
		}
	}
	return false
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
