package jobspec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// MaxFileBytes bounds a job file; central parses files users submit, and
// hcl's lexer and parser hold about 400 bytes per byte of a file (a 4 MiB
// file took 1.6 to 1.9 GB). A node's desired state is one MQTT message of
// at most 1 MiB, so a job file much larger could not be placed anyway; 2 MiB
// leaves room for the server's own, clearer refusal of what is too large
// for a node.
const MaxFileBytes = 2 << 20

var fileSpec = spec{where: "file", blocks: []string{"variable", "variables", "locals", "job"}}

// Parse parses an HCL2 job file, applies variables (vars overrides the
// file's defaults, as -var does), fills in defaults and validates the job.
// filename is used only in error messages. Any error is an *Error or
// Errors and matches ErrInvalidJob.
func Parse(filename string, src []byte, vars map[string]string) (*Job, error) {
	j, _, err := ParseWithWarnings(filename, src, vars)
	return j, err
}

// ParseFile reads and parses the job file at path.
func ParseFile(path string, vars map[string]string) (*Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	return Parse(filepath.Base(path), src, vars)
}

// ParseOptions says how ParseWith parses a job file.
type ParseOptions struct {
	// Filename names the file in errors ("job.hcl" when empty).
	Filename string
	// Vars are variable values as -var gives them: the highest precedence;
	// a name the file does not declare is an error.
	Vars map[string]string
	// EnvVars are values from the environment (NOMAD_VAR_name), keyed by
	// the variable's name without the prefix: below Vars; a name the file
	// does not declare is ignored, as Nomad does.
	EnvVars map[string]string
	// ReadFile answers file() and the other file functions, with the path
	// as the job file wrote it (relative to the job file's directory). nil:
	// those functions are refused with an error saying how to submit. The
	// CLI uses RecordingReader and sends what it read with the job; the
	// server parses again with MapReader over those files.
	ReadFile func(path string) ([]byte, error)
	// VarSources names where a value of Vars came from, by variable name,
	// for error messages (the -var-file's name); a name not here came from
	// -var.
	VarSources map[string]string
}

// ParseWith parses a job file as ParseWithWarnings does, with options.
func ParseWith(src []byte, o ParseOptions) (*Job, []string, error) {
	return parse(src, o)
}

// ParseWithWarnings is Parse that also returns warnings, one line each:
// Nomad features the file uses that Tether accepts but ignores.
func ParseWithWarnings(filename string, src []byte, vars map[string]string) (job *Job, warnings []string, err error) {
	return parse(src, ParseOptions{Filename: filename, Vars: vars})
}

func parse(src []byte, o ParseOptions) (job *Job, warnings []string, err error) {
	filename := o.Filename
	defer func() {
		// hclsyntax is a third-party parser fed with user input; a crash in
		// it must not take central down with it.
		if r := recover(); r != nil {
			job, warnings = nil, nil
			err = &Error{File: filename, Summary: fmt.Sprintf("the HCL parser failed on this file: %v", r), Fix: "please report this file as a bug"}
		}
	}()
	if filename == "" {
		filename = "job.hcl"
	}
	if len(src) > MaxFileBytes {
		return nil, nil, &Error{File: filename, Summary: fmt.Sprintf("job file is %d bytes, more than %d", len(src), MaxFileBytes), Fix: "make it smaller"}
	}
	if e := checkNesting(filename, src, false); e != nil {
		return nil, nil, e
	}
	b := newBudget()
	d := &decoder{
		file:   filename,
		ctx:    &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: meteredFunctions(b, newFileReader(o.ReadFile))},
		pos:    positions{},
		budget: b,
	}
	d.varSources = o.VarSources
	f, ds := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if !d.diags(ds) {
		return nil, nil, d.errs.sorted().err()
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		panic("BUG: hclsyntax.ParseConfig returned a non-hclsyntax body")
	}
	c := d.content(body, fileSpec)
	d.variables(c.blocks["variable"], c.blocks["variables"], o.Vars, o.EnvVars)
	d.localValues(c.blocks["locals"])
	d.expandDynamic(src, c.blocks["job"]) // dynamic.go
	jobs := c.blocks["job"]
	switch len(jobs) {
	case 0:
		d.errs = append(d.errs, &Error{File: filename, Line: 1, Summary: "no job block", Fix: `add job "name" { group "name" { task "name" { ... } } }`})
	default:
		for _, extra := range jobs[1:] {
			d.errorf(extra.DefRange(), "put each job in its own file", "more than one job block")
		}
		job = d.job(jobs[0])
	}
	warnings = make([]string, 0, len(d.warns))
	for _, w := range d.warns.sorted() {
		warnings = append(warnings, w.Error())
	}
	if len(d.errs) > 0 || job == nil {
		return nil, warnings, d.errs.sorted().err()
	}
	job.Canonicalize()
	if errs := validate(job, filename, d.pos); len(errs) > 0 {
		return nil, warnings, errs.err()
	}
	return job, warnings, nil
}

// ParseVarArgs turns -var flags into Parse's vars. It accepts the
// arguments as a flag parser leaves them ("k=v"), or raw ("-var", "k=v",
// "-var=k=v", "--var k=v"). A later value for the same name wins.
func ParseVarArgs(args []string) (map[string]string, error) {
	out := make(map[string]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-var" || a == "--var":
			if i+1 >= len(args) {
				return nil, &Error{Summary: fmt.Sprintf("%s needs a value", a), Fix: "write -var name=value"}
			}
			i++
			a = args[i]
		case strings.HasPrefix(a, "-var=") || strings.HasPrefix(a, "--var="):
			a = a[strings.IndexByte(a, '=')+1:]
		}
		k, v, ok := strings.Cut(a, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &Error{Summary: fmt.Sprintf("-var %q is not name=value", a), Fix: "write -var name=value"}
		}
		if !hclsyntax.ValidIdentifier(k) {
			return nil, &Error{Summary: fmt.Sprintf("-var %q: %q is not a variable name", a, k), Fix: "use letters, digits, _ and -"}
		}
		out[k] = v
	}
	return out, nil
}
