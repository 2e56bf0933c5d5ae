package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/tether-edge/tether/jobspec"
)

// envVarPrefix names job file variables in the environment, as Nomad's
// CLI reads them: NOMAD_VAR_image=web:2.
const envVarPrefix = "NOMAD_VAR_"

// jobFileOpts are the flags of the verbs that read a job file (job run,
// job submit, job validate, job plan).
type jobFileOpts struct {
	vars     stringList // -var name=value
	varFiles stringList // -var-file FILE, in order
}

func (e *env) jobFileFlags(fs *flag.FlagSet) *jobFileOpts {
	o := &jobFileOpts{}
	fs.Var(&o.vars, "var", "set a job file variable, name=value (repeatable; wins over -var-file and NOMAD_VAR_name)")
	fs.Var(&o.varFiles, "var-file", "read job file variables from an HCL (name = value) or .json file (repeatable; a later file wins; wins over NOMAD_VAR_name)")
	return o
}

// jobFile is a job file read and checked on this machine, and the request
// body that sends it: central parses the file again, with the same
// variables and the files file() read here, and stays the authority.
type jobFile struct {
	job      *jobspec.Job
	warnings []string
	body     map[string]any
}

// loadJobFile reads the job file at path: HCL (variables from -var,
// -var-file and NOMAD_VAR_name, file() relative to the job file's
// directory), or JSON as `central job inspect` prints it. It parses and
// validates it locally; on failure it prints why and returns the exit
// code, without contacting central.
func (e *env) loadJobFile(path string, o *jobFileOpts) (*jobFile, int) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, e.fail("reading job file", err)
	}
	if len(src) > jobspec.MaxFileBytes {
		return nil, e.fail("reading job file", fmt.Errorf("%s is %d bytes, more than %d", path, len(src), jobspec.MaxFileBytes))
	}
	if isJSONJob(path, src) {
		if len(o.vars) > 0 || len(o.varFiles) > 0 {
			return nil, e.usageFail("in -var", fmt.Errorf("%s is a JSON job, already evaluated: -var and -var-file apply to HCL job files", path))
		}
		return e.loadJSONJob(path, src)
	}
	vars, sources := map[string]string{}, map[string]string{}
	for _, vf := range o.varFiles {
		b, err := os.ReadFile(vf)
		if err != nil {
			return nil, e.usageFail("in -var-file", err)
		}
		m, err := jobspec.ParseVarFile(vf, b)
		if err != nil {
			return nil, e.jobFileErrors(err)
		}
		if undeclared := notDeclared(src, m); len(undeclared) > 0 {
			return nil, e.jobFileErrors(fmt.Errorf("%s sets %s, which %s does not declare: declare each in the job file (variable %q { ... }) or remove it from %s",
				vf, quoteList(undeclared), path, undeclared[0], vf))
		}
		for k, v := range m {
			vars[k], sources[k] = v, vf // a later file wins
		}
	}
	flagVars, err := jobspec.ParseVarArgs(o.vars)
	if err != nil {
		return nil, e.usageFail("in -var", err)
	}
	for k, v := range flagVars {
		vars[k] = v
		delete(sources, k)
	}
	envVars := e.envVars(src)
	// file() reads relative to the job file's directory, as Nomad's CLI
	// does; what it read is sent along, and central parses from that.
	read, files := jobspec.RecordingReader(filepath.Dir(path))
	job, warnings, err := jobspec.ParseWith(src, jobspec.ParseOptions{Filename: path, Vars: vars, VarSources: sources, EnvVars: envVars, ReadFile: read})
	if err != nil {
		return nil, e.jobFileErrors(err)
	}
	body := map[string]any{"hcl": string(src), "filename": path}
	if len(vars) > 0 {
		body["variables"] = vars
	}
	if len(envVars) > 0 {
		body["env_variables"] = envVars
	}
	if fs := files(); len(fs) > 0 {
		body["files"] = fs // base64 in JSON: a filebase64() file may be binary
	}
	return &jobFile{job: job, warnings: warnings, body: body}, exitOK
}

// jobFileErrors prints a job file's errors, one per line, as `nomad job
// validate` and `nomad job run` do, and returns exitError.
func (e *env) jobFileErrors(err error) int {
	if e.verb == "job validate" {
		fmt.Fprintf(e.stderr, "Job validation errors:\n%v\n", err)
	} else {
		fmt.Fprintf(e.stderr, "Error parsing job file:\n%v\n", err)
	}
	return exitError
}

// envVars returns the NOMAD_VAR_name values of the environment that the
// job file declares: the others are not sent to central (Nomad ignores
// them too).
func (e *env) envVars(src []byte) map[string]string {
	declared := jobspec.DeclaredVariables(src)
	out := map[string]string{}
	for _, kv := range e.environ() {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envVarPrefix) {
			continue
		}
		if name = strings.TrimPrefix(name, envVarPrefix); declared[name] {
			out[name] = value
		}
	}
	return out
}

// notDeclared lists the names of vars the job file src does not declare
// (none when src does not parse: the real parse says why).
func notDeclared(src []byte, vars map[string]string) []string {
	declared := jobspec.DeclaredVariables(src)
	if declared == nil {
		return nil
	}
	var out []string
	for k := range vars {
		if !declared[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// isJSONJob reports whether a job file is JSON: its name ends in .json or
// it starts with "{".
func isJSONJob(path string, src []byte) bool {
	return strings.EqualFold(filepath.Ext(path), ".json") || bytes.HasPrefix(bytes.TrimSpace(src), []byte("{"))
}

// loadJSONJob reads a job in Tether's JSON, bare or wrapped as
// {"job": {...}} (what `central job inspect` prints and POST /v1/jobs
// takes). Nomad's API JSON (PascalCase keys, {"Job": {...}}) is refused:
// its field names and units differ, and a silent half-translation would
// run something else than the file says.
func (e *env) loadJSONJob(path string, src []byte) (*jobFile, int) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, e.jobFileErrors(fmt.Errorf("%s: not a JSON object: %v", path, err))
	}
	raw := json.RawMessage(src)
	if inner, ok := top["job"]; ok && len(top) == 1 {
		raw = inner
		if err := json.Unmarshal(inner, &top); err != nil {
			return nil, e.jobFileErrors(fmt.Errorf("%s: \"job\" is not a JSON object: %v", path, err))
		}
	}
	if k := nomadKey(top); k != "" {
		return nil, e.jobFileErrors(fmt.Errorf("%s looks like Nomad's API JSON (key %q); Tether reads its own JSON (snake_case, as central job inspect prints it): submit the HCL job file instead, with the driver changed", path, k))
	}
	var job jobspec.Job
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return nil, e.jobFileErrors(fmt.Errorf("%s: %v", path, err))
	}
	job.NormalizeJSONNumbers()
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		return nil, e.jobFileErrors(fmt.Errorf("%s: %w", path, err))
	}
	return &jobFile{job: &job, body: map[string]any{"job": raw}}, exitOK
}

// nomadKey returns a key of a job object that only Nomad's API JSON has
// (PascalCase, like "ID" or "TaskGroups"), or "".
func nomadKey(obj map[string]json.RawMessage) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "" && unicode.IsUpper([]rune(k)[0]) {
			return k
		}
	}
	return ""
}
