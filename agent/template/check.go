package template

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/agent/template/internal/eval"
)

// TextError is a problem in a template's text that Check found, at a line
// of the text, with what to write instead when there is something to say.
type TextError struct {
	Line int    // 1-based line in the template's text; 0 if unknown
	Msg  string // what is wrong
	Fix  string // may be ""
}

func (e *TextError) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, s)
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// checkName is the name Check parses under, so it can find the line in
// the parser's "template: <name>:<line>[:<col>]: ..." errors.
const checkName = "text"

// Check parses a template's text exactly as Parse does on the agent (the
// same parser, functions, fields and refusals) and returns the first
// problem as a *TextError. Central runs it when a job is submitted, so a
// template that calls a function the agent does not have fails there
// instead of on the device.
func Check(text, left, right string) error {
	x, _, err := parseText(checkName, text, left, right)
	if err == nil {
		_, err = scanNames(x.Tree()) // service names, as Parse checks them
	}
	if err == nil {
		return nil
	}
	te := &TextError{Msg: err.Error(), Fix: fixFor(err)}
	rest, ok := strings.CutPrefix(te.Msg, "template: "+checkName+":")
	if !ok {
		return te
	}
	line, rest, ok := strings.Cut(rest, ":")
	n, err2 := strconv.Atoi(line)
	if !ok || err2 != nil {
		return te
	}
	if col, after, ok := strings.Cut(rest, ":"); ok {
		if _, err := strconv.Atoi(col); err == nil {
			rest = after
		}
	}
	te.Line, te.Msg = n, strings.TrimSpace(rest)
	return te
}

// parseText parses text with the functions and fields templates have;
// the renderer is the one the parsed template's functions call.
func parseText(name, text, left, right string) (*eval.Template, *renderer, error) {
	r := &renderer{}
	x, err := eval.Parse(name, text, left, right, eval.Options{Funcs: r.funcs(), Fields: instanceFields})
	return x, r, err
}

// unsupported are functions of Nomad's templates (consul-template's and
// Nomad's own) that Tether's templates do not have, with what to write
// instead.
var unsupported = map[string]string{
	"nomadServices":    `a list of every service is not available: list one service's instances with nomadService "name"`,
	"services":         `Tether has no Consul catalogue: list one service's instances with service "name"`,
	"nomadVar":         `Tether has no variables store: put the value in the task's env or the job's meta and read it with env "NAME" or env "meta.NAME"`,
	"nomadVarList":     `Tether has no variables store: put the values in the task's env or the job's meta and read them with env`,
	"nomadVarListSafe": `Tether has no variables store: put the values in the task's env or the job's meta and read them with env`,
	"nomadVarExists":   `Tether has no variables store: put the value in the task's env or the job's meta and read it with env`,
	"key":              `Tether has no key/value store: put the value in the task's env or the job's meta and read it with env "NAME" or env "meta.NAME"`,
	"keyOrDefault":     `Tether has no key/value store: put the value in the task's env or the job's meta and read it with env "NAME" or env "meta.NAME"`,
	"keyExists":        `Tether has no key/value store: put the value in the task's env or the job's meta and read it with env`,
	"ls":               `Tether has no key/value store: put the values in the task's env or the job's meta and read them with env`,
	"safeLs":           `Tether has no key/value store: put the values in the task's env or the job's meta and read them with env`,
	"tree":             `Tether has no key/value store: put the values in the task's env or the job's meta and read them with env`,
	"safeTree":         `Tether has no key/value store: put the values in the task's env or the job's meta and read them with env`,
	"secret":           `Tether has no Vault integration: put the secret in a file on the node or in the task's env`,
	"secrets":          `Tether has no Vault integration: put the secret in a file on the node or in the task's env`,
	"pkiCert":          `Tether has no Vault integration: put the certificate in a file on the node (file:// artifact)`,
	"sockaddr":         `read the node's address with env "attr.unique.network.ip-address", or a port's with env "NOMAD_ADDR_<label>"`,
	"node":             `Tether has no Consul catalogue: read this node's attributes with env "attr.<name>", env "node.<name>" or env "meta.<name>"`,
	"nodes":            `Tether has no Consul catalogue: list a service's instances with service "name"`,
	"datacenters":      `Tether has no Consul catalogue: read this node's datacenter with env "NOMAD_DC"`,
	"connect":          `Consul Connect is not supported: list a service's instances with service "name"`,
	"caLeaf":           `Consul Connect is not supported`,
	"caRoots":          `Consul Connect is not supported`,
	"file":             `templates cannot read files on the node: set the template's source = "local/file.tpl", or ship the file with an artifact`,
	"executeTemplate":  `a template cannot call other templates: write the text where it is used`,
	"writeToFile":      `a template writes only its destination: use one template block per file`,
	"plugin":           `templates cannot run programs`,
	"envOrDefault":     `write {{ or (env "NAME") "default" }}`,
	"timestamp":        `templates cannot read the clock: the program can`,
}

// fixFor says what to write instead when err is about a function the
// agent does not have: a known replacement, else the functions there are.
func fixFor(err error) string {
	msg := err.Error()
	_, after, ok := strings.Cut(msg, `function "`)
	if !ok || !strings.HasSuffix(msg, `" not defined`) {
		return ""
	}
	name, _, _ := strings.Cut(after, `"`)
	if fix, ok := unsupported[name]; ok {
		return fix
	}
	return "the functions templates have: " + strings.Join(functionNames(), ", ")
}

// functionNames are the builtins' and the agent's function names, sorted.
func functionNames() []string {
	names := eval.Builtins()
	for n := range (&renderer{}).funcs() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// explain adds fixFor's answer to a parse error.
func explain(err error) error {
	if fix := fixFor(err); fix != "" {
		return fmt.Errorf("%w; %s", err, fix)
	}
	return err
}
