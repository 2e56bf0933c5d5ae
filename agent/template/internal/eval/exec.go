package eval

import (
	"errors"
	"fmt"
	"io"
	"text/template/parse"
)

// ErrTooLong is wrapped by the error of an execution that ran out of
// steps or bytes (Options.MaxSteps, Options.MaxBytes).
var ErrTooLong = errors.New("template runs too long")

// Execute renders the template to w. An error names the template, the
// line and the action; what was written before it stays written.
func (t *Template) Execute(w io.Writer) error {
	s := &state{t: t, w: w, left: t.steps, bytesLeft: t.bytes}
	_, err := s.walk(nil, t.tree.Root)
	return err
}

// state is one execution: the variables in scope, innermost last.
type state struct {
	t         *Template
	w         io.Writer
	vars      []variable
	left      int // steps
	bytesLeft int
}

type variable struct {
	name  string
	value any
}

// flow is how a walk ends: normally, or at {{break}} or {{continue}}.
type flow int

const (
	next flow = iota
	breakLoop
	continueLoop
)

func (s *state) errorf(n parse.Node, format string, args ...any) error {
	loc, ctx := s.t.tree.ErrorContext(n)
	return fmt.Errorf("template: %s: executing at <%s>: "+format, append([]any{loc, ctx}, args...)...)
}

func (s *state) step(n parse.Node) error {
	s.left--
	if s.left < 0 {
		return s.errorf(n, "%w (more than %d steps)", ErrTooLong, s.t.steps)
	}
	return nil
}

// spend counts n bytes of text made by a function.
func (s *state) spend(n parse.Node, bytes int) error {
	s.bytesLeft -= bytes
	if s.bytesLeft < 0 {
		return s.errorf(n, "%w (more than %d bytes of text made by functions)", ErrTooLong, s.t.bytes)
	}
	return nil
}

func (s *state) walk(dot any, n parse.Node) (flow, error) {
	if err := s.step(n); err != nil {
		return next, err
	}
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if f, err := s.walk(dot, c); f != next || err != nil {
				return f, err
			}
		}
	case *parse.TextNode:
		if _, err := s.w.Write(n.Text); err != nil {
			return next, s.errorf(n, "%w", err)
		}
	case *parse.CommentNode:
	case *parse.ActionNode:
		v, err := s.pipeline(dot, n.Pipe)
		if err != nil || len(n.Pipe.Decl) > 0 {
			return next, err
		}
		if _, err := fmt.Fprint(s.w, v); err != nil {
			return next, s.errorf(n, "%w", err)
		}
	case *parse.IfNode:
		return s.ifWith(dot, &n.BranchNode, false)
	case *parse.WithNode:
		return s.ifWith(dot, &n.BranchNode, true)
	case *parse.RangeNode:
		return s.rangeOver(dot, n)
	case *parse.BreakNode:
		return breakLoop, nil
	case *parse.ContinueNode:
		return continueLoop, nil
	default:
		return next, s.errorf(n, "BUG: Parse let %s through", n)
	}
	return next, nil
}

// pop drops the variables declared since mark.
func (s *state) pop(mark int) { s.vars = s.vars[:mark] }

func (s *state) ifWith(dot any, b *parse.BranchNode, with bool) (flow, error) {
	defer s.pop(len(s.vars))
	v, err := s.pipeline(dot, b.Pipe)
	switch {
	case err != nil:
		return next, err
	case truth(v) && with:
		return s.walk(v, b.List)
	case truth(v):
		return s.walk(dot, b.List)
	case b.ElseList != nil:
		return s.walk(dot, b.ElseList)
	}
	return next, nil
}

func (s *state) rangeOver(dot any, r *parse.RangeNode) (flow, error) {
	defer s.pop(len(s.vars))
	v, err := s.pipeline(dot, r.Pipe)
	if err != nil {
		return next, err
	}
	decl := r.Pipe.Decl
	body := len(s.vars) // the range's own variables are below
	// one runs the body for one element; i is the index (nil for a range
	// over a number). With one variable it gets the element; with two,
	// the index and the element.
	one := func(i, elem any) (bool, error) {
		switch {
		case len(decl) == 1 && r.Pipe.IsAssign:
			s.assign(r, decl[0].Ident[0], elem) // checked before the loop
		case len(decl) == 1:
			s.vars[body-1].value = elem
		case len(decl) == 2 && r.Pipe.IsAssign:
			s.assign(r, decl[0].Ident[0], i)
			s.assign(r, decl[1].Ident[0], elem)
		case len(decl) == 2:
			s.vars[body-2].value, s.vars[body-1].value = i, elem
		}
		f, err := s.walk(elem, r.List)
		s.pop(body)
		return f == breakLoop, err
	}
	ran := false
	switch x := v.(type) {
	case int, uint8:
		if len(decl) > 1 {
			return next, s.errorf(r, "can't use %v to iterate over more than one variable", v)
		}
		// 0, 1, ... n-1, of the number's own type.
		n, isInt := x.(int)
		if !isInt {
			n = int(x.(uint8))
		}
		for k := 0; k < n; k++ {
			ran = true
			var e any = k
			if !isInt {
				e = uint8(k)
			}
			if stop, err := one(nil, e); stop || err != nil {
				return next, err
			}
		}
	case []string:
		for k, e := range x {
			ran = true
			if stop, err := one(k, e); stop || err != nil {
				return next, err
			}
		}
	case []Record:
		for k, e := range x {
			ran = true
			if stop, err := one(k, any(e)); stop || err != nil {
				return next, err
			}
		}
	default:
		return next, s.errorf(r, "range can't iterate over %v", v)
	}
	if !ran && r.ElseList != nil {
		return s.walk(dot, r.ElseList)
	}
	return next, nil
}

// assign sets the innermost variable called name ({{$x = ...}}). The
// parser does not check that a range assigns only declared variables.
func (s *state) assign(n parse.Node, name string, v any) error {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].value = v
			return nil
		}
	}
	return s.errorf(n, "undefined variable: %s", name)
}

func (s *state) lookup(n *parse.VariableNode) (any, error) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == n.Ident[0] {
			return s.vars[i].value, nil
		}
	}
	return nil, s.errorf(n, "undefined variable: %s", n.Ident[0])
}

// pipeline evaluates each command with the previous one's value as its
// last argument, then declares or assigns the variables.
func (s *state) pipeline(dot any, p *parse.PipeNode) (any, error) {
	var v any
	for i, cmd := range p.Cmds {
		var err error
		if v, err = s.command(dot, cmd, v, i > 0); err != nil {
			return nil, err
		}
	}
	for _, d := range p.Decl {
		if p.IsAssign {
			if err := s.assign(d, d.Ident[0], v); err != nil {
				return nil, err
			}
		} else {
			s.vars = append(s.vars, variable{d.Ident[0], v})
		}
	}
	return v, nil
}

func (s *state) command(dot any, cmd *parse.CommandNode, final any, piped bool) (any, error) {
	if err := s.step(cmd); err != nil {
		return nil, err
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		return s.call(dot, id, cmd.Args[1:], final, piped)
	}
	if len(cmd.Args) > 1 || piped {
		return nil, s.errorf(cmd, "BUG: Parse let arguments to %s through", cmd.Args[0])
	}
	return s.operand(dot, cmd.Args[0])
}

// operand evaluates an argument, or a command that is not a call.
func (s *state) operand(dot any, n parse.Node) (any, error) {
	switch n := n.(type) {
	case *parse.BoolNode:
		return n.True, nil
	case *parse.StringNode:
		return n.Text, nil
	case *parse.NumberNode:
		v, err := number(n)
		if err != nil {
			return nil, s.errorf(n, "%v", err)
		}
		return v, nil
	case *parse.DotNode:
		return dot, nil
	case *parse.FieldNode:
		return s.fields(n, dot, n.Ident)
	case *parse.VariableNode:
		v, err := s.lookup(n)
		if err != nil {
			return nil, err
		}
		return s.fields(n, v, n.Ident[1:])
	case *parse.ChainNode:
		v, err := s.operand(dot, n.Node)
		if err != nil {
			return nil, err
		}
		return s.fields(n, v, n.Field)
	case *parse.PipeNode:
		return s.pipeline(dot, n)
	case *parse.IdentifierNode:
		return s.call(dot, n, nil, nil, false)
	}
	return nil, s.errorf(n, "BUG: Parse let %s through", n)
}

// fields reads v.A.B...: each step must be a Record with that field.
func (s *state) fields(n parse.Node, v any, names []string) (any, error) {
	for _, name := range names {
		r, ok := v.(Record)
		if !ok {
			if v == nil {
				return nil, s.errorf(n, "nil pointer evaluating %s", name)
			}
			return nil, s.errorf(n, "can't evaluate field %s in type %T", name, v)
		}
		if v, ok = r.Field(name); !ok {
			return nil, s.errorf(n, "can't evaluate field %s in type %T", name, r)
		}
	}
	return v, nil
}

// call evaluates a function call: args are the nodes after its name, and
// final the piped value if piped.
func (s *state) call(dot any, id *parse.IdentifierNode, args []parse.Node, final any, piped bool) (any, error) {
	name := id.Ident
	if name == "and" || name == "or" {
		return s.andOr(dot, name == "or", args, final, piped)
	}
	var params []Type
	var fn func([]any) (any, error)
	if b, ok := builtins[name]; ok {
		fn = b.call
		if name == "printf" {
			params = []Type{String}
		}
	} else if f, ok := s.t.funcs[name]; ok {
		fn, params = f.Call, f.Params
	} else {
		return nil, s.errorf(id, "BUG: Parse let function %q through", name)
	}
	argv := make([]any, 0, len(args)+1)
	for _, a := range args {
		v, err := s.operand(dot, a)
		if err != nil {
			return nil, err
		}
		argv = append(argv, v)
	}
	if piped {
		argv = append(argv, final)
	}
	for i, v := range argv {
		if i < len(params) && !params[i].accepts(v) {
			return nil, s.errorf(id, "wrong type for value; expected %s; got %T", params[i], v)
		}
	}
	// What the print family may make is counted before the call (one
	// printf can make gigabytes), what our functions made after it.
	if err := s.spend(id, textEstimate(name, argv)); err != nil {
		return nil, err
	}
	v, err := fn(argv)
	if err != nil {
		return nil, s.errorf(id, "error calling %s: %w", name, err)
	}
	if _, builtin := builtins[name]; !builtin {
		if err := s.spend(id, size(v)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// andOr evaluates and/or lazily: the first false (and) or true (or)
// argument, else the last one.
func (s *state) andOr(dot any, or bool, args []parse.Node, final any, piped bool) (any, error) {
	var v any
	for _, a := range args {
		var err error
		if v, err = s.operand(dot, a); err != nil {
			return nil, err
		}
		if truth(v) == or {
			return v, nil
		}
	}
	if piped {
		v = final
	}
	return v, nil
}
