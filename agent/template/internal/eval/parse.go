package eval

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template/parse"
)

// Bounds of one execution.
const (
	// DefaultMaxSteps: every node walked and every command evaluated is
	// a step.
	DefaultMaxSteps = 10_000_000
	// DefaultMaxBytes: the text functions make (print, printf, join,
	// split, ...), counted before the call where one call could make a
	// lot (printf "%[1]s%[1]s..." of a long string).
	DefaultMaxBytes = 16 << 20
)

// Options are what a template may use.
type Options struct {
	// Funcs are the functions besides the builtins (and, or, not, len,
	// index, slice, eq, ne, lt, le, gt, ge, print, printf, println, html,
	// js, urlquery). A name may not be a builtin's.
	Funcs map[string]Func
	// Fields are every field name a Record has: any other .Name is
	// refused when parsing.
	Fields []string
	// MaxSteps and MaxBytes bound an execution (0: the defaults).
	MaxSteps, MaxBytes int
}

// Template is one parsed template. Executions may run in parallel.
type Template struct {
	tree   *parse.Tree
	funcs  map[string]Func
	fields map[string]bool
	steps  int
	bytes  int
}

// Parse parses text with the given delimiters ("" for {{ and }}) and
// checks it uses only what Execute supports. Errors name the template and
// the line: "template: local/app.conf:3: ...".
func Parse(name, text, left, right string, o Options) (*Template, error) {
	t := &Template{funcs: o.Funcs, fields: map[string]bool{}, steps: o.MaxSteps, bytes: o.MaxBytes}
	if t.steps <= 0 {
		t.steps = DefaultMaxSteps
	}
	if t.bytes <= 0 {
		t.bytes = DefaultMaxBytes
	}
	for _, f := range o.Fields {
		t.fields[f] = true
	}
	known := map[string]any{}
	for n := range builtins {
		known[n] = true
	}
	for n := range o.Funcs {
		if _, ok := builtins[n]; ok {
			panic("BUG: eval: function " + n + " is a builtin")
		}
		known[n] = true
	}
	tree := parse.New(name)
	trees := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, left, right, trees, known); err != nil {
		return nil, err
	}
	t.tree = tree
	c := checker{t: t}
	if err := c.list(tree.Root, scope{top: true}); err != nil {
		return nil, err
	}
	for n, other := range trees {
		if other != tree {
			loc, _ := other.ErrorContext(other.Root)
			return nil, fmt.Errorf("template: %s: {{define %q}} is not supported: a template cannot define or call other templates; write the text where it is used", loc, n)
		}
	}
	return t, nil
}

// Tree is the parse tree (read only).
func (t *Template) Tree() *parse.Tree { return t.tree }

// checker walks a parse tree and refuses what Execute does not support.
type checker struct {
	t *Template
}

// scope is where a node is: top, dot is still the template's data (always
// empty); rangeElse, in the else branch of a range (and no range since).
type scope struct {
	top, rangeElse bool
}

func (c *checker) refuse(n parse.Node, format string, args ...any) error {
	loc, _ := c.t.tree.ErrorContext(n)
	return fmt.Errorf("template: %s: "+format, append([]any{loc}, args...)...)
}

func (c *checker) list(l *parse.ListNode, in scope) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := c.node(n, in); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) node(n parse.Node, in scope) error {
	switch n := n.(type) {
	case *parse.TextNode, *parse.CommentNode, *parse.ContinueNode:
		return nil
	case *parse.BreakNode:
		// text/template ends only the inner range there, not the loop
		// the break is in: refused rather than guessed.
		if in.rangeElse {
			return c.refuse(n, "{{break}} in the {{else}} of a {{range}} is not supported: move it out of the {{else}}, or use {{if}}")
		}
		return nil
	case *parse.ActionNode:
		return c.pipe(n.Pipe, in.top)
	case *parse.IfNode:
		return c.branch(&n.BranchNode, in.top, in, in)
	case *parse.WithNode:
		return c.branch(&n.BranchNode, in.top, scope{rangeElse: in.rangeElse}, in)
	case *parse.RangeNode:
		return c.branch(&n.BranchNode, in.top, scope{}, scope{top: in.top, rangeElse: true})
	case *parse.TemplateNode:
		return c.refuse(n, "{{template %q}} (or {{block}}) is not supported: a template cannot call other templates; write the text where it is used", n.Name)
	}
	return c.refuse(n, "%s is not supported", n)
}

// branch checks the pipeline of if, with and range (top: dot is the data
// there), its body and its else branch, each in its scope.
func (c *checker) branch(b *parse.BranchNode, top bool, body, otherwise scope) error {
	if err := c.pipe(b.Pipe, top); err != nil {
		return err
	}
	if err := c.list(b.List, body); err != nil {
		return err
	}
	return c.list(b.ElseList, otherwise)
}

func (c *checker) pipe(p *parse.PipeNode, top bool) error {
	if p == nil {
		return nil
	}
	for _, v := range p.Decl {
		if err := c.variable(v); err != nil {
			return err
		}
	}
	for i, cmd := range p.Cmds {
		if err := c.command(cmd, i > 0, top); err != nil {
			return err
		}
	}
	return nil
}

// command checks one command of a pipeline; piped is whether it gets the
// previous command's value as its last argument.
func (c *checker) command(cmd *parse.CommandNode, piped, top bool) error {
	first := cmd.Args[0]
	nargs := len(cmd.Args) - 1
	if piped {
		nargs++
	}
	if id, ok := first.(*parse.IdentifierNode); ok {
		if err := c.call(id, cmd.Args[1:], nargs); err != nil {
			return err
		}
		for _, a := range cmd.Args[1:] {
			if err := c.operand(a, top); err != nil {
				return err
			}
		}
		return nil
	}
	if nargs > 0 {
		switch first.(type) {
		case *parse.FieldNode, *parse.ChainNode:
			return c.refuse(first, "%s is a field, not a function: it takes no arguments (method calls are not supported)", first)
		case *parse.VariableNode:
			if len(first.(*parse.VariableNode).Ident) > 1 {
				return c.refuse(first, "%s is a field, not a function: it takes no arguments (method calls are not supported)", first)
			}
		}
		return c.refuse(first, "%s is not a function: it takes no arguments", first)
	}
	return c.operand(first, top)
}

// call checks a function's name, how many arguments it gets and the
// constants given where it wants a string or a list.
func (c *checker) call(id *parse.IdentifierNode, args []parse.Node, nargs int) error {
	name := id.Ident
	var params []Type
	if b, ok := builtins[name]; ok {
		if nargs < b.min || (b.max >= 0 && nargs > b.max) {
			return c.refuse(id, "%s takes %s, not %d", name, count(b.min, b.max), nargs)
		}
		if name == "printf" {
			params = []Type{String}
		}
	} else {
		f, ok := c.t.funcs[name]
		if !ok {
			return c.refuse(id, "function %q not defined", name)
		}
		if nargs != len(f.Params) {
			return c.refuse(id, "%s takes %s, not %d", name, count(len(f.Params), len(f.Params)), nargs)
		}
		params = f.Params
	}
	for i, a := range args {
		if i >= len(params) || params[i] == Any {
			continue
		}
		want := "a string"
		if params[i] == Strings {
			want = "a list of strings"
		}
		switch a.(type) {
		case *parse.BoolNode, *parse.NumberNode, *parse.NilNode:
			return c.refuse(a, "argument %d of %s must be %s, not %s", i+1, name, want, a)
		case *parse.StringNode:
			if params[i] == Strings {
				return c.refuse(a, "argument %d of %s must be %s, not %s", i+1, name, want, a)
			}
		}
	}
	return nil
}

func count(min, max int) string {
	switch {
	case min == max && min == 1:
		return "1 argument"
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	case max < 0:
		return fmt.Sprintf("at least %d", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

// operand checks an argument, or a command that is not a call.
func (c *checker) operand(n parse.Node, top bool) error {
	switch n := n.(type) {
	case *parse.BoolNode, *parse.StringNode:
		return nil
	case *parse.NumberNode:
		if _, err := number(n); err != nil {
			return c.refuse(n, "%v", err)
		}
		return nil
	case *parse.NilNode:
		return c.refuse(n, "nil is not supported: no value in a template is nil")
	case *parse.DotNode:
		if top {
			return c.refuse(n, "%s", errTopDot)
		}
		return nil
	case *parse.FieldNode:
		if top {
			return c.refuse(n, "%s", errTopDot)
		}
		return c.fields(n, n.Ident)
	case *parse.VariableNode:
		if err := c.variable(n); err != nil {
			return err
		}
		return c.fields(n, n.Ident[1:])
	case *parse.ChainNode:
		if err := c.operand(n.Node, top); err != nil {
			return err
		}
		return c.fields(n, n.Field)
	case *parse.PipeNode:
		return c.pipe(n, top)
	case *parse.IdentifierNode:
		return c.call(n, nil, 0)
	}
	return c.refuse(n, "%s is not supported", n)
}

var errTopDot = errors.New("the template's data (.) is always empty: use a function such as service or env, or . inside range or with")

func (c *checker) variable(v *parse.VariableNode) error {
	if v.Ident[0] == "$" {
		return c.refuse(v, "$ is the template's data, which is always empty: use a function such as service or env")
	}
	return nil
}

func (c *checker) fields(n parse.Node, names []string) error {
	for _, f := range names {
		if !c.t.fields[f] {
			var known []string
			for k := range c.t.fields {
				known = append(known, "."+k)
			}
			sort.Strings(known)
			return c.refuse(n, "unknown field .%s (a service instance has %s; methods cannot be called)", f, strings.Join(known, ", "))
		}
	}
	return nil
}
