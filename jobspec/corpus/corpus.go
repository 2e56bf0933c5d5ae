package corpus

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

	"github.com/tether-edge/tether/jobspec"
)

// Case is one job file and how to submit it.
type Case struct {
	Name     string   // slash path from the repository root; docs blocks are "docs/page.md:line"
	Dir      string   // directory file() and -var-file paths are relative to
	Src      []byte   // the job file
	Wants    []string // texts the error must contain; none: the file must be accepted
	Vars     []string // -var arguments, in order
	VarFiles []string // -var-file paths, in order
	Env      []string // NAME=value environment variables
	// PlanWarns are texts the plan's warnings must contain; without any,
	// the plan must warn of no service address nodes cannot resolve.
	PlanWarns []string
}

// Load collects every case under root (the repository), sorted by name.
func Load(root string) ([]Case, error) {
	var cases []Case
	add := func(name, dir string, src []byte) {
		cases = append(cases, newCase(name, dir, src))
	}
	for _, pattern := range []string{
		"jobspec/testdata/nomad-shapes/*.hcl",
		"jobspec/testdata/good/*.hcl",
		"jobspec/testdata/bad/*.hcl",
	} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("no files match %s: %v", pattern, err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			add(rel(root, f), filepath.Dir(f), src)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".hcl") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !jobBlock.Match(src) {
			return nil // not a job file: an ACL policy (examples/acl/) or the like
		}
		add(rel(root, path), filepath.Dir(path), withExampleVars(src))
		return nil
	})
	if err != nil {
		return nil, err
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		return nil, fmt.Errorf("no docs under %s: %v", root, err)
	}
	for _, path := range docs {
		md, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for _, b := range docJobBlocks(string(md)) {
			add(fmt.Sprintf("%s:%d", rel(root, path), b.line), filepath.Dir(path), []byte(b.text))
		}
	}
	slices.SortFunc(cases, func(a, b Case) int { return strings.Compare(a.Name, b.Name) })
	return cases, nil
}

// Root is the repository's root: the nearest directory above the working
// directory that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func rel(root, path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(r)
}

func newCase(name, dir string, src []byte) Case {
	c := Case{Name: name, Dir: dir, Src: src}
	for _, line := range strings.Split(string(src), "\n") {
		if d, ok := strings.CutPrefix(line, "# want: "); ok {
			c.Wants = append(c.Wants, d)
		}
		if d, ok := strings.CutPrefix(line, "# var: "); ok {
			c.Vars = append(c.Vars, d)
		}
		if d, ok := strings.CutPrefix(line, "# var-file: "); ok {
			c.VarFiles = append(c.VarFiles, d)
		}
		if d, ok := strings.CutPrefix(line, "# env: "); ok {
			c.Env = append(c.Env, d)
		}
		if d, ok := strings.CutPrefix(line, "# plan-warn: "); ok {
			c.PlanWarns = append(c.PlanWarns, d)
		}
	}
	return c
}

// Filename is the name the file is submitted under.
func (c Case) Filename() string {
	name, _, _ := strings.Cut(c.Name, ":")
	return filepath.Base(name)
}

// Options are the ParseOptions the CLI would build for the case: the
// -var-file values, then the -var values over them, the NOMAD_VAR_ values
// by name, and file() reading next to the job file. files collects every
// file file() read, by the path the job wrote (what the CLI sends along).
func (c Case) Options() (o jobspec.ParseOptions, files map[string][]byte, err error) {
	vars := map[string]string{}
	for _, vf := range c.VarFiles {
		path := filepath.Join(c.Dir, vf)
		src, err := os.ReadFile(path)
		if err != nil {
			return o, nil, err
		}
		fv, err := jobspec.ParseVarFile(filepath.Base(path), src)
		if err != nil {
			return o, nil, err
		}
		maps.Copy(vars, fv)
	}
	flagVars, err := jobspec.ParseVarArgs(c.Vars)
	if err != nil {
		return o, nil, err
	}
	maps.Copy(vars, flagVars)
	env := map[string]string{}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "NOMAD_VAR_"); ok {
			env[name] = v
		}
	}
	root := os.DirFS(c.Dir)
	files = map[string][]byte{}
	return jobspec.ParseOptions{
		Filename: c.Filename(),
		Vars:     vars,
		EnvVars:  env,
		ReadFile: func(path string) ([]byte, error) {
			b, err := fs.ReadFile(root, filepath.ToSlash(filepath.Clean(path)))
			if err == nil {
				files[path] = b
			}
			return b, err
		},
	}, files, nil
}

// Verdict compares what the file got (accepted, or refused with msg) with
// what it asks for, and returns the difference, or nil.
func (c Case) Verdict(accepted bool, msg string) error {
	if len(c.Wants) == 0 {
		if !accepted {
			return fmt.Errorf("refused: %s", msg)
		}
		return nil
	}
	if accepted {
		return fmt.Errorf("accepted; want an error containing %q", c.Wants)
	}
	var missing []string
	for _, w := range c.Wants {
		if !strings.Contains(msg, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("error lacks %q; got:\n%s", missing, msg)
	}
	return checkKnownLists(msg)
}

// knownList matches the "known: a, b, c" lists of errors.
var knownList = regexp.MustCompile(`known: ([^)\n]*)`)

// checkKnownLists fails on a "known:" list that names something twice
// ("known: env, env, meta"): a repeat tells the user nothing.
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
		if strings.TrimSpace(l) == "..." {
			return true
		}
	}
	return false
}
